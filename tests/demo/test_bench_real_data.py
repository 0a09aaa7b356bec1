"""Building blocks of benchmarks/real_data.py: the mixture over the real files and the report table."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark_scripts import load_benchmark
from flankit.errors import DataError

REPO = Path(__file__).resolve().parents[2]
EXTERNAL = REPO / ".." / "shared" / "external"


real = load_benchmark("real_data")


@pytest.fixture(scope="module")
def external() -> Path:
    if not (EXTERNAL / "sst2").is_dir():
        pytest.skip(f"external datasets not found at {EXTERNAL}")
    return EXTERNAL.resolve()


def test_real_mixture_resolves_every_task_and_samples_them(external, tmp_path):
    from flankit.data.external import register_external_tasks
    from flankit.data.mixture import load_mixture

    task_file = register_external_tasks(external, tmp_path)
    mix = load_mixture(real.write_mixture(task_file, tmp_path))
    rates = mix.rates()
    assert set(real.CLASSIFICATION) | {real.COT_TASK} | {"sentiment", "topic", "nli"} <= set(rates)
    assert sum(rates[t] for t in real.CLASSIFICATION) == pytest.approx(0.85)
    recs = list(mix.sample(1500, seed=0))
    gsm = [r for r in recs if r["task"] == real.COT_TASK]
    assert gsm and all(r["format"] in ("cot", "fs_cot") and "So the answer is" in r["targets"] for r in gsm)
    assert {r["task"] for r in recs} >= set(real.CLASSIFICATION)
    from flankit.data.templates import templates_for

    held = {t.id for n in real.CLASSIFICATION for t in templates_for(n) if t.heldout}
    assert held and not held & {r["template"] for r in recs}
    # the defaults: zero-shot with options only, examples-proportional rates
    assert {r["format"] for r in recs if r["task"] in real.CLASSIFICATION} == {"zs_opt"}
    real_rates = {t: rates[t] for t in real.CLASSIFICATION}
    # examples-proportional: RTE (2,490 training pairs) gets far less than SST-2 (6,920 sentences)
    assert real_rates["rte_file"] < 0.5 * real_rates["sst2_file"]
    assert real_rates["sst2_file"] == max(real_rates.values())
    mix = load_mixture(
        real.write_mixture(task_file, tmp_path / "w", (0.8, 0.05, 0.15), 0.3, "equal", weights={})
    )
    rates = mix.rates()
    assert [rates[t] for t in real.CLASSIFICATION] == pytest.approx([0.2] * 4)
    assert rates[real.COT_TASK] == pytest.approx(0.05)
    real_formats = {r["format"] for r in mix.sample(800, seed=1) if r["task"] in real.CLASSIFICATION}
    assert real_formats == {"zs_opt", "fs_opt"}
    rates = load_mixture(real.write_mixture(task_file, tmp_path / "u", untrained=("rte_file",))).rates()
    assert "rte_file" not in rates and sum(rates[t] for t in real.CLASSIFICATION[:3]) == pytest.approx(0.85)
    with pytest.raises(SystemExit, match="rte"):
        real.write_mixture(task_file, tmp_path / "x", untrained=("rte",))
    # a weight multiplies a task's examples-proportional rate; the real share stays what it was
    plain = load_mixture(real.write_mixture(task_file, tmp_path / "p", weights={})).rates()
    rates = load_mixture(real.write_mixture(task_file, tmp_path / "q", weights={"rte_file": 0.25})).rates()
    assert sum(rates[t] for t in real.CLASSIFICATION) == pytest.approx(
        sum(plain[t] for t in real.CLASSIFICATION)
    )
    ratio = lambda r: r["rte_file"] / r["sst2_file"]  # noqa: E731
    assert ratio(rates) == pytest.approx(0.25 * ratio(plain))
    with pytest.raises(SystemExit, match="--weights.*rte"):
        real.write_mixture(task_file, tmp_path / "y", weights={"rte": 0.5})


def test_weights_argument_parses_task_weights_and_refuses_bad_ones(capsys):
    assert real.parse_args(["--weights", "rte_file=0.25,trec_file=2"]).weights == {
        "rte_file": 0.25,
        "trec_file": 2.0,
    }
    assert real.parse_args(["--weights", ""]).weights == {}
    for bad in ("rte_file", "rte_file=x", "rte_file=-1"):
        with pytest.raises(SystemExit) as exit_info:
            real.parse_args(["--weights", bad])
        assert exit_info.value.code == 2 and "task=weight" in capsys.readouterr().err


def test_eval_specs_cover_each_task_and_gsm8k_only_with_cot(external, tmp_path):
    from flankit.data.external import register_external_tasks
    from flankit.data.templates import templates_for

    register_external_tasks(external, tmp_path)
    cls, cot = real.eval_specs()
    assert [s.name for s in cls] == list(real.CLASSIFICATION) and all(
        len(s.templates) == sum(t.kind == "zero_shot" for t in templates_for(s.name)) for s in cls
    )
    assert cot[0].name == real.COT_TASK and not cot[0].templates and cot[0].cot_templates
    assert 0.49 < real.majority_share("sst2_file") < 0.52


def test_task_table_and_targets_from_cells(monkeypatch):
    def cell(task, tpl, acc, heldout, cot=False):
        return {
            "task": task,
            "template": tpl,
            "heldout": heldout,
            "shots": 0,
            "cot": cot,
            "n": 4,
            "metric": "accuracy",
            "scores": {"accuracy": acc},
        }

    cells = [
        cell("x", "x1", 0.9, False),
        cell("x", "x9", 0.7, True),
        cell("g", "g-cot01", 0.1, False, cot=True),
    ]
    monkeypatch.setattr(real, "majority_share", lambda task: 0.5)  # no registered task "x" needed
    table = real.task_table(cells)
    assert table["x"]["seen_template_accuracy"] == 0.9 and table["x"]["heldout_template_accuracy"] == 0.7
    assert table["g"] == {"cot_exact_match": 0.1, "per_template": {"g-cot01": 0.1}}
    assert real.target_check(table["x"], 0.75) == {
        "target": 0.75,
        "accuracy": 0.7,
        "scored_on": "heldout templates",
        "met": False,
    }
    no_held = {**table["x"], "heldout_template_accuracy": None}
    assert (
        real.target_check(no_held, 0.8)["met"]
        and real.target_check(no_held, 0.8)["scored_on"] == "seen templates"
    )


def test_missing_external_folder_is_a_clear_error(tmp_path):
    from flankit.data.external import register_external_tasks

    with pytest.raises(DataError, match="sst2/"):
        register_external_tasks(tmp_path / "nowhere", tmp_path)


def test_wall_clock_is_checked_against_the_budget_and_reported():
    assert real.wall_clock_check(30, 1799.0) == {"budget_minutes": 30, "minutes": 30.0, "met": True}
    assert not real.wall_clock_check(30, 1801.0)["met"]
    row = {"seen_template_accuracy": 0.8, "heldout_template_accuracy": 0.7, "majority_baseline": 0.5}
    result = {
        "per_task": {"sst2_file": row},
        "builtin": {"seen_template_accuracy": 0.9, "heldout_template_accuracy": 0.85},
        "wall_clock": real.wall_clock_check(30, 1710.0),
        "budget": {"steps": 5940},
    }
    text = real.markdown(result)
    assert "| sst2_file | 80.0% | 70.0% | 50.0% | >= 75% |" in text
    assert "Wall clock: 28.5 of 30 minutes (5940 steps)." in text
    assert "Training stage" not in text  # no step rate without the training seconds


def test_wall_clock_reports_the_step_rate_this_machine_reached():
    check = real.wall_clock_check(30, 3600.0, steps=5940, train_s=3300.0, precision="bf16")
    assert not check["met"] and check["minutes"] == 60.0
    rate = check["steps_per_minute"]
    assert rate["measured"] == 108.0 and rate["assumed"] == real.STEPS_PER_MINUTE
    assert rate["cpu"] and rate["cores"] >= 1 and rate["precision"] == "bf16"
    result = {"per_task": {}, "builtin": {"seen_template_accuracy": 0.9, "heldout_template_accuracy": 0.85}}
    text = real.markdown({**result, "wall_clock": check, "budget": {"steps": 5940}})
    assert "Wall clock: 60.0 of 30 minutes (5940 steps)." in text
    assert f"Training stage: 108 steps a minute in bf16 on {rate['cores']} x {rate['cpu']}" in text


def test_cpu_name_reads_cpuinfo_and_falls_back_without_it(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n", encoding="utf-8")
    assert real.cpu_name(info) == "Test CPU 9000"
    import platform

    fallback = platform.processor() or platform.machine()
    assert real.cpu_name(tmp_path / "missing") == fallback
    info.write_text("processor\t: 0\n", encoding="utf-8")  # no model name line (some ARM kernels)
    assert real.cpu_name(info) == fallback


def test_the_step_budget_fits_the_reference_machine():
    # 129.4 steps a minute measured in the training stage on the 2-core reference (micro, grouped
    # rows, dropout 0.05, fp32); about 2.5 minutes of setup and evaluation besides
    steps = 30 * real.TRAIN_SHARE * real.STEPS_PER_MINUTE
    assert steps / 129.4 * 60 + 150 < 30 * 60


def test_batch_size_must_be_a_positive_integer(capsys):
    assert real.parse_args(["--batch-size", "16"]).batch_size == 16
    for bad in ("0", "-4", "many"):
        with pytest.raises(SystemExit) as exc:
            real.parse_args(["--batch-size", bad])
        assert exc.value.code == 2
        assert "--batch-size: give a positive whole number" in capsys.readouterr().err


def test_the_recipe_defaults_micro_grouped_rte_quartered_agnews_at_three_quarters_overlong_dropped_and_each_can_be_turned_back():
    args = real.parse_args([])
    assert (args.size, args.group_packed) == ("micro", True)
    assert (args.lr, args.weight_decay, args.dropout, args.embedding_std) == (7e-4, 0.1, 0.1, 0.1)
    assert (args.overlong, args.weights) == ("drop", {"rte_file": 0.25, "agnews_file": 0.75})
    args = real.parse_args(["--overlong", "truncate", "--weights", ""])
    assert (args.overlong, args.weights) == ("truncate", {})
    args = real.parse_args(["--size", "mini", "--no-group-packed"])
    assert (args.size, args.group_packed) == ("mini", False)
    assert real.parse_args(["--input-dropout", "0.1"]).input_dropout == 0.1
    args = real.parse_args(["--lr", "1e-3", "--weight-decay", "0", "--embedding-std", "1"])
    assert (args.lr, args.weight_decay, args.embedding_std) == (1e-3, 0.0, 1.0)


def test_an_unknown_size_is_refused_before_any_work(capsys):
    with pytest.raises(SystemExit) as exc:
        real.parse_args(["--size", "huge"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--size: invalid choice: 'huge'" in err and "micro" in err


def test_a_relative_out_folder_still_finds_the_task_file(external, tmp_path, monkeypatch):
    import flankit.demo
    from flankit.data.mixture import load_mixture

    seen = {}

    def stop(cfg, console):  # the training itself is not what this test is about
        seen["cfg"] = cfg
        raise KeyboardInterrupt

    monkeypatch.setattr(flankit.demo, "run_demo", stop)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        real.run(external, 0.1, 0, out=Path("rel") / "out")
    cfg = seen["cfg"]
    # run() itself drops over-long examples by default, not only the command line
    assert Path(cfg.out).is_absolute() and cfg.overlong == "drop"
    with pytest.raises(KeyboardInterrupt):
        real.run(
            external, 0.1, 0, out=tmp_path / "cut", overlong="truncate", input_dropout=0.1, embedding_std=0.02
        )
    assert seen["cfg"].overlong == "truncate" and seen["cfg"].input_dropout == 0.1
    assert seen["cfg"].embedding_std == 0.02
    assert set(real.CLASSIFICATION) <= set(load_mixture(cfg.mixture).rates())
