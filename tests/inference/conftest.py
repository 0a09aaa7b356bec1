"""Fixtures for inference tests: a random tiny model folder and one trained on a toy mapping.

The trained model learns "reverse these words" for a few dozen steps, enough that beam search
and constrained decoding see peaked, input-dependent distributions (non-trivial beams).
"""

from __future__ import annotations

import random
import shutil

import pytest
import torch

from t5_testing import WORDS, tiny_model_dir

TOY_PROMPTS = [" ".join(random.Random(i).sample(WORDS[:24], 4)) for i in range(48)]


@pytest.fixture(scope="session")
def toy_prompts():
    """Prompts the trained model saw (first six) plus two it did not."""
    return TOY_PROMPTS[:6] + ["cat dog", "the a an happy sad tree"]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engine_model")
    tiny_model_dir(folder)
    return folder


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory, model_dir):
    """The tiny model after 60 Adam steps on prompt -> reversed words."""
    from transformers import AutoTokenizer

    from flankit.modeling.t5 import T5

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = T5.from_pretrained(model_dir).train()
    targets = [" ".join(reversed(p.split())) for p in TOY_PROMPTS]
    enc = tok(TOY_PROMPTS, padding=True, return_tensors="pt")
    labels = tok(targets, padding=True, return_tensors="pt").input_ids
    labels[labels == tok.pad_token_id] = -100
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    folder = tmp_path_factory.mktemp("engine_trained")
    model.eval().save_pretrained(folder)
    for f in model_dir.iterdir():
        if not (folder / f.name).exists():
            shutil.copy(f, folder / f.name)
    return folder
