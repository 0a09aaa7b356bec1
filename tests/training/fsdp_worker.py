"""One process of a multi-process training run that also reports which parameters it held.

Used by test_train_fsdp.py under the usual RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT
variables: `python fsdp_worker.py REPORT CONFIG [RESUME_CONFIG ...]` trains CONFIG like
`flankit train`, then resumes from the last checkpoint with each RESUME_CONFIG through a new
`Trainer` (everything but the process group comes from the checkpoint files; one process
launch instead of several keeps the test fast). REPORT gets one JSON line per run:
whether FSDP was on, and every parameter's local and full size.
"""

from __future__ import annotations

import json
import sys

import torch

from flankit.training.config import load_config
from flankit.training.trainer import Trainer


def main(report_path: str, *configs: str) -> None:
    torch.set_num_threads(1)
    with open(report_path, "w", encoding="utf-8") as report:
        for n, config in enumerate(configs):
            trainer = Trainer(load_config(config))
            summary = trainer.train(resume=n > 0)
            sizes = {
                name: [p.to_local().numel() if hasattr(p, "to_local") else p.numel(), p.numel()]
                for name, p in trainer.model.named_parameters()
            }
            kinds = sorted({type(p).__name__ for p in trainer.model.parameters()})
            line = {
                "rank": trainer.rank,
                "fsdp": trainer.fsdp,
                "sizes": sizes,
                "kinds": kinds,
                "summary": summary,
            }
            report.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
