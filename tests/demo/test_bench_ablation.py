"""Building blocks of benchmarks/template_ablation.py: the two arms' mixtures and their statistics."""

from __future__ import annotations

import json

import pytest

from benchmark_scripts import load_benchmark

ablation = load_benchmark("template_ablation")


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    paths = ablation.write_mixtures(tmp_path_factory.mktemp("ablation"))
    return {arm: ablation.trained_templates(p) for arm, p in paths.items()}


def test_single_arm_trains_exactly_one_zero_shot_template_per_task(arms):
    from flankit.data.tasks import builtin_tasks
    from flankit.data.templates import get_template

    assert set(arms["single"]) == {t.name for t in builtin_tasks()}
    for task, ids in arms["single"].items():
        assert len(ids) == 1, (task, ids)
        tpl = get_template(task, next(iter(ids)))
        assert tpl.kind == "zero_shot" and not tpl.heldout


def test_no_arm_trains_a_flagged_heldout_template_and_full_keeps_the_rest(arms):
    from flankit.data.templates import templates_for

    for task, ids in arms["full"].items():
        tpls = templates_for(task)
        held = {t.id for t in tpls if t.heldout}
        assert held and not held & ids and not held & arms["single"][task]
        assert ids == {t.id for t in tpls if t.kind in ("zero_shot", "inverse") and not t.heldout}
        assert arms["single"][task] < ids


def test_both_arms_are_zero_shot_only_with_equal_rates(tmp_path):
    from flankit.data.mixture import load_mixture

    paths = ablation.write_mixtures(tmp_path)
    full, single = (load_mixture(paths[a]) for a in ("full", "single"))
    assert full.rates() == single.rates()
    for mix in (full, single):
        recs = list(mix.sample(300, seed=0))
        assert {r["format"] for r in recs} <= {"zs_opt", "zs_noopt"}
    assert {r["template"] for r in single.sample(300, seed=0)} <= {
        i for s in ablation.trained_templates(paths["single"]).values() for i in s
    }


def test_both_arms_weigh_tasks_as_the_demo_mixture(tmp_path):
    from flankit.data.mixture import load_mixture

    demo = load_mixture("demo").rates()
    for path in ablation.write_mixtures(tmp_path).values():
        rates = load_mixture(path).rates()
        assert rates.keys() == demo.keys()
        # the demo's extra weight on the hard comparison tasks carries over to both arms
        assert max(rates, key=rates.get) == max(demo, key=demo.get)
        assert all(abs(rates[t] - demo[t]) < 1e-9 for t in demo), (rates, demo)


def test_arm_stats_average_heldout_spread_and_cps(tmp_path):
    def cell(task, tpl, acc, heldout, shots=0):
        return {
            "task": task,
            "template": tpl,
            "heldout": heldout,
            "shots": shots,
            "cot": False,
            "metric": "accuracy",
            "scores": {"accuracy": acc},
        }

    cells = [
        cell("a", "a1", 0.9, False),
        cell("a", "a9", 0.6, True),
        cell("a", "a10", 0.8, True),
        cell("b", "b1", 1.0, False),
        cell("b", "b9", 0.5, True),
        cell("b", "b10", 0.5, True),
        cell("b", "b9", 0.0, True, shots=2),
    ]
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "results.json").write_text(json.dumps({"cells": cells}))
    doc = {"train": {"steps": 10, "final_loss": 1.0}, "timing_s": {}}
    stats = ablation.arm_stats(tmp_path, doc, {"a": {"a1"}, "b": {"b1"}})
    assert stats["heldout_mean"] == pytest.approx((0.7 + 0.5) / 2)
    assert stats["heldout_spread"] == pytest.approx((0.2 + 0.0) / 2)
    assert stats["cps"] == pytest.approx((0.8 * (1 - 0.1) + 0.5) / 2)
    assert stats["trained_template_mean"] == pytest.approx(0.95)
    table = ablation.markdown({"full": stats, "single": stats, "ratios": ablation.verdict(stats, stats)})
    assert table.count("| 60.0% |") == 2 and "CPS" in table and "| 1.00 |" in table


def _arm(mean, spread, cps, task_spread):
    return {
        "heldout_mean": mean,
        "heldout_spread": spread,
        "cps": cps,
        "trained_template_mean": 0.9,
        "templates_trained_per_task": {"a": 8},
        "per_task": {"a": {"mean": mean, "spread": task_spread, "cps": cps, "n": 2}},
        "steps": 10,
    }


def test_seeds_are_averaged_before_the_verdict():
    # seed 0 alone fails the spread criterion (ratio 2.0), seed 1 alone passes it (0.1); the
    # verdict is taken on the averages (spreads 0.06 vs 0.125, ratio 0.48), not on either seed
    full = [_arm(0.8, 0.10, 0.78, 0.10), _arm(0.9, 0.02, 0.89, 0.02)]
    single = [_arm(0.7, 0.05, 0.68, 0.05), _arm(0.7, 0.20, 0.62, 0.20)]
    f, s = ablation.mean_over_seeds(full), ablation.mean_over_seeds(single)
    assert f["heldout_mean"] == pytest.approx(0.85) and f["heldout_spread"] == pytest.approx(0.06)
    assert f["per_task"]["a"]["spread"] == pytest.approx(0.06) and f["steps"] == 10
    assert s["heldout_spread"] == pytest.approx(0.125)
    assert ablation.verdict(full[0], single[0])["flan_effect"] is False
    assert ablation.verdict(full[1], single[1])["flan_effect"] is True
    both = ablation.verdict(f, s)
    assert both["spread_full_over_single"] == pytest.approx(0.48) and both["flan_effect"] is True
    assert ablation.verdict(f, {**s, "heldout_mean": 0.9})["flan_effect"] is False  # mean must be higher too
    result = {
        "full": f,
        "single": s,
        "ratios": both,
        "per_seed": {0: {"full": full[0], "single": single[0], **ablation.verdict(full[0], single[0])}},
    }
    table = ablation.markdown(result)
    assert (
        "| mean | full |" in table and "| 0 | full |" in table and "| 2.00 |" in table and "| 0.48 |" in table
    )


def test_seed_list_parses_and_refuses_bad_seeds():
    import argparse

    assert ablation.seed_list("0,1,2") == [0, 1, 2]
    with pytest.raises(argparse.ArgumentTypeError, match="comma-separated integer seeds"):
        ablation.seed_list("0,x")


def test_steps_must_be_a_positive_integer():
    import argparse

    assert ablation.positive_int("2240") == 2240
    for bad in ("0", "-3", "1.5", "many"):
        with pytest.raises(argparse.ArgumentTypeError, match="positive whole number"):
            ablation.positive_int(bad)


def test_runs_of_single_seeds_combine_into_the_two_seed_verdict(tmp_path):
    budget = {"steps": 10}
    full = [_arm(0.8, 0.10, 0.78, 0.10), _arm(0.9, 0.02, 0.89, 0.02)]
    single = [_arm(0.7, 0.05, 0.68, 0.05), _arm(0.7, 0.20, 0.62, 0.20)]
    both = ablation.aggregate(
        {0: {"full": full[0], "single": single[0]}, 1: {"full": full[1], "single": single[1]}}, budget
    )
    files = []
    for seed in (1, 0):  # saved outputs as the script prints them: JSON, then the markdown table
        one = json.loads(
            json.dumps(ablation.aggregate({seed: {"full": full[seed], "single": single[seed]}}, budget))
        )
        files.append(tmp_path / f"seed{seed}.txt")
        files[-1].write_text(json.dumps(one, indent=2) + "\n\n" + ablation.markdown(one) + "\n")
    merged = ablation.combine([ablation.read_result(str(f)) for f in files])
    assert merged["budget"]["seeds"] == [0, 1] and merged["flan_effect"] is True
    assert merged["ratios"]["spread_full_over_single"] == pytest.approx(0.48)
    assert merged["full"] == both["full"] and merged["single"] == both["single"]
    assert merged["per_seed"][0]["flan_effect"] is False and merged["per_seed"][1]["flan_effect"] is True


def test_combine_refuses_repeated_seeds_other_budgets_and_other_files(tmp_path):
    arms = {"full": _arm(0.8, 0.1, 0.8, 0.1), "single": _arm(0.7, 0.1, 0.7, 0.1)}
    a = ablation.aggregate({0: arms}, {"steps": 10})
    with pytest.raises(SystemExit, match="seed 0 is in more than one"):
        ablation.combine([a, a])
    with pytest.raises(SystemExit, match="different budgets"):
        ablation.combine([a, ablation.aggregate({1: arms}, {"steps": 20})])
    bad = tmp_path / "notes.txt"
    bad.write_text("| seed | arm |\n")
    with pytest.raises(SystemExit, match="not the output of template_ablation.py"):
        ablation.read_result(str(bad))
    with pytest.raises(SystemExit, match="not the output of template_ablation.py"):
        ablation.read_result(str(tmp_path / "missing.json"))


def test_both_arms_train_the_recipe_the_verdict_was_measured_with(tmp_path, monkeypatch):
    import flankit.demo

    seen = []
    monkeypatch.setattr(flankit.demo, "run_demo", lambda cfg, console=None: seen.append(cfg) or {})
    monkeypatch.setattr(ablation, "arm_stats", lambda run_dir, doc, templates: {})
    ablation.run_seed(7, 0, tmp_path, ablation.write_mixtures(tmp_path), threads=1)
    assert [c.size for c in seen] == ["mini", "mini"]  # not the demo's default model
    assert not any(c.group_packed for c in seen) and {c.train_steps for c in seen} == {7}
