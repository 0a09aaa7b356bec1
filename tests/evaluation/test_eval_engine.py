"""The harness with the real inference engine on a tiny random T5 (wiring, not quality)."""

from __future__ import annotations

from flankit.evaluation.harness import EvalConfig, evaluate


def test_real_engine_runs_classify_and_generate_cells(tiny_model_dir, external):
    from flankit.inference.engine import Engine

    engine = Engine.from_pretrained(tiny_model_dir, backend="native", dtype="fp32")
    config = EvalConfig(
        tasks=["bbh:navigate", "gsm8k"],
        data=str(external),
        limit=3,
        max_new_tokens=4,
        n_boot=20,
        truncate=True,
    )
    results = evaluate(engine, config, model_name=str(tiny_model_dir))
    modes = {c["task"]: c["mode"] for c in results["cells"]}
    assert modes == {"bbh:navigate": "classify", "gsm8k": "generate"}
    nav = next(c for c in results["cells"] if c["task"] == "bbh:navigate")
    assert all(
        s["prediction"] in ("Yes", "No") for s in nav["samples"]
    )  # rank classification stays in the label set
    assert all(0.0 <= c["scores"][c["metric"]] <= 1.0 and c["n"] == 3 for c in results["cells"])
