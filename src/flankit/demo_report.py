"""What the demo shows: live examples, the console summary, report.md and its plots."""

from __future__ import annotations

from pathlib import Path


def _pick(task: str, *, kind: str = "zero_shot", heldout: bool | None = None):
    from flankit.data.templates import templates_for

    for tpl in templates_for(task):
        if tpl.kind == kind and (heldout is None or tpl.heldout == heldout):
            return tpl.id
    raise LookupError(f"no {kind} template for {task}")


def live_examples(engine, seed: int) -> list[dict]:
    """Four small demonstrations, each with the prompt, the model's output and the gold answer."""
    from flankit.data.evalsets import eval_examples
    from flankit.inference.answers import extract_answer

    shown = []

    zs = eval_examples("sentiment", _pick("sentiment", heldout=True), shots=0, limit=1, seed=seed + 1)[0]
    out = engine.generate([zs["inputs"]], max_new_tokens=12)[0]
    shown.append(
        {
            "kind": "zero-shot instruction in words never trained on",
            "prompt": zs["inputs"],
            "output": str(out),
            "gold": zs["targets"],
        }
    )

    fs = eval_examples("topic", _pick("topic", heldout=False), shots=2, limit=1, seed=seed + 2)[0]
    out = engine.generate([fs["inputs"]], max_new_tokens=12)[0]
    shown.append(
        {"kind": "few-shot prompt", "prompt": fs["inputs"], "output": str(out), "gold": fs["targets"]}
    )

    cl = eval_examples(
        "nli", _pick("nli", heldout=True), shots=0, with_options=False, limit=1, seed=seed + 3
    )[0]
    options = cl["options"]
    choice = engine.classify([cl["inputs"]], [options])[0]
    constrained = engine.generate([cl["inputs"]], max_new_tokens=8, allowed_outputs=options)[0]
    shown.append(
        {
            "kind": "constrained classification (rank scores over the label set)",
            "prompt": cl["inputs"],
            "output": choice.choice,
            "constrained_generation": str(constrained),
            "probs": {k: round(v, 3) for k, v in choice.probs.items()},
            "gold": cl["answer"],
        }
    )

    cot = eval_examples("arithmetic", _pick("arithmetic", kind="cot"), cot=True, limit=1, seed=seed + 4)[0]
    out = engine.generate([cot["inputs"]], max_new_tokens=96)[0]
    shown.append(
        {
            "kind": "step-by-step arithmetic",
            "prompt": cot["inputs"],
            "output": str(out),
            "extracted_answer": extract_answer(str(out)),
            "gold": cot["answer"],
        }
    )
    return shown


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def summary_rows(doc: dict) -> list[list[str]]:
    rows = []
    for task, r in doc["per_task"].items():
        shots = r["by_shots"]
        rows.append(
            [
                task,
                _pct(r["seen_template_accuracy"]),
                _pct(r["heldout_template_accuracy"]),
                _pct(shots.get("0")),
                _pct(max((v for k, v in shots.items() if k != "0"), default=None)),
                f"{r.get('robustness_zero_shot', {}).get('spread', 0) * 100:.1f}",
            ]
        )
    rows.append(
        ["MEAN", _pct(doc["seen_template_accuracy"]), _pct(doc["heldout_template_accuracy"]), "", "", ""]
    )
    return rows


HEADER = ["task", "seen templates", "held-out templates", "0-shot", "few-shot", "spread (pts)"]


def print_summary(doc: dict, console) -> None:
    from rich.table import Table

    table = Table(title="miniature FLAN-T5: accuracy on the builtin classification tasks")
    for h in HEADER:
        table.add_column(h, justify="left" if h == "task" else "right")
    for row in summary_rows(doc):
        table.add_row(*row)
    console.print(table)
    for ex in doc["examples"]:
        console.print(f"[bold]{ex['kind']}[/bold]")
        console.print(ex["prompt"], markup=False, style="dim")
        extra = f"  probs {ex['probs']}" if "probs" in ex else ""
        console.print(f"  -> {ex['output']}   (gold: {ex['gold']}){extra}", markup=False)
    model = doc["model_dir"]
    console.print("\nNext:", style="bold")
    for cmd in next_commands(model):
        console.print(f"  {cmd}", markup=False)


def next_commands(model: str) -> list[str]:
    return [
        f'flankit generate --model {model} "Is this review positive or negative? A warm, funny, wonderful film."',
        f'flankit classify --model {model} --options "positive|negative" "Review: a dull and tiring mess."',
        f"flankit eval --model {model} --tasks sentiment,topic --templates heldout --shots 0,2 --out eval_run",
        f"flankit serve --model {model} --port 8000",
    ]


def plot_seen_vs_heldout(doc: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(doc["per_task"])
    seen = [doc["per_task"][t]["seen_template_accuracy"] or 0 for t in tasks]
    held = [doc["per_task"][t]["heldout_template_accuracy"] or 0 for t in tasks]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(tasks) + 2), 3.6))
    xs = range(len(tasks))
    ax.bar([x - 0.2 for x in xs], seen, width=0.4, label="seen templates", color="tab:blue")
    ax.bar([x + 0.2 for x in xs], held, width=0.4, label="held-out templates", color="tab:orange")
    ax.set_xticks(list(xs), tasks, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("zero-shot accuracy")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Seen vs held-out instruction templates")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_demo_report(doc: dict, out: Path, loss_png: Path) -> Path:
    """report.md with the summary table, examples and plots (loss, per-template, seen vs held-out)."""
    import shutil

    plots = []
    if loss_png.is_file():
        shutil.copy(loss_png, out / "loss.png")
        plots.append(("Training loss", "loss.png"))
    plots.append(("Seen vs held-out templates", plot_seen_vs_heldout(doc, out / "seen_vs_heldout.png").name))
    for png in sorted((out / "eval" / "plots").glob("*.png")):
        plots.append((png.stem.replace("_", " "), f"eval/plots/{png.name}"))
    lines = [
        "# flankit demo: a miniature FLAN-T5",
        "",
        f"Seed {doc['seed']}, {doc['train']['steps']} training steps, final loss "
        f"{doc['train']['final_loss']:.3f}. Held-out templates were never seen in training.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in summary_rows(doc)]
    lines += ["", "## Live examples", ""]
    for ex in doc["examples"]:
        lines += [
            f"**{ex['kind']}**",
            "",
            "```",
            ex["prompt"],
            "```",
            f"Output: `{ex['output']}` (gold: `{ex['gold']}`)",
            "",
        ]
        if "probs" in ex:
            lines += [f"Option probabilities: {ex['probs']}", ""]
    lines += ["## Plots", ""] + [f"### {title}\n\n![{title}]({p})\n" for title, p in plots]
    lines += ["## Next commands", "", "```"] + next_commands(doc["model_dir"]) + ["```", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
