"""Token-tree rank classification: tree layout, parity with transformers, and with step decoding."""

from __future__ import annotations

import pytest
import torch

from flankit.inference.scoring import build_trees, score_options
from flankit.modeling.t5 import T5
from t5_testing import hf_model

PROMPTS = [[5, 9, 13, 1], [7, 1], [4, 4, 8, 15, 16, 23, 42, 1]]
# different counts per prompt, different lengths, shared prefixes (5 9 ...), a one-token option
OPTIONS = [
    [[5, 9, 1], [5, 9, 13, 1], [5, 1], [7, 1]],
    [[1]],
    [[11, 12, 13, 14, 1], [11, 12, 1], [3, 1], [6, 6, 6, 1], [20, 1], [11, 30, 1]],
]


@pytest.fixture(scope="module")
def models(trained_dir):
    return T5.from_pretrained(trained_dir).fuse_projections(), hf_model(trained_dir)


def reference(hf, prompt, option) -> float:
    labels = torch.tensor([option])
    with torch.inference_mode():
        logp = hf(input_ids=torch.tensor([prompt]), labels=labels).logits.log_softmax(-1)
    return logp.gather(2, labels[..., None]).sum().item()


def test_tree_stores_shared_prefixes_once():
    (tree,) = build_trees([OPTIONS[0]], start=0, max_nodes=64)
    # inputs: start, then 5 (shared by three options), 9 (by two), 13 and 7 (one each); the
    # last token of an option (EOS) is only a target
    assert tree.tokens == [0, 5, 9, 13, 7]
    assert tree.parents == [0, 0, 1, 2, 0] and tree.depths == [0, 1, 2, 3, 1]
    assert tree.picks == [(0, [0, 1, 2]), (1, [0, 1, 2, 3]), (2, [0, 1]), (3, [0, 4])]


def test_small_node_budget_splits_a_prompt_over_rows():
    trees = build_trees([OPTIONS[2]], start=0, max_nodes=4)
    assert len(trees) > 1 and all(t.prompt == 0 for t in trees)
    assert sorted(j for t in trees for j, _ in t.picks) == list(range(len(OPTIONS[2])))
    # an option longer than the budget still gets a row of its own rather than being dropped
    (alone,) = build_trees([[[3, 4, 5, 6, 7, 1]]], start=0, max_nodes=2)
    assert len(alone.tokens) == 6


@pytest.mark.parametrize("max_nodes", [256, 3])
@pytest.mark.parametrize("max_batch", [64, 1])
def test_scores_match_transformers_per_option(models, max_nodes, max_batch):
    ours, hf = models
    got = score_options(ours, PROMPTS, OPTIONS, max_batch=max_batch, max_nodes=max_nodes)
    assert [len(r) for r in got] == [len(o) for o in OPTIONS]
    for prompt, opts, row in zip(PROMPTS, OPTIONS, got, strict=True):
        for opt, (total, n) in zip(opts, row, strict=True):
            assert n == len(opt)
            assert total == pytest.approx(reference(hf, prompt, opt), abs=1e-4)
    # the scores differ between options, so a mix-up of rows or options could not pass
    assert len({round(s, 3) for s, _ in got[2]}) == len(OPTIONS[2])


def test_tree_hidden_states_equal_step_by_step_decoding(models):
    ours, _ = models
    path = [0, 5, 9, 13]  # a tree that is one chain: node i is step i
    ids = torch.tensor([PROMPTS[0]])
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        enc = ours.encode(ids, mask)
        state = ours.start_decoding(enc, mask, max_length=len(path))
        steps = torch.stack([ours.decode_step(state, torch.tensor([t])) for t in path], 1)
        tree = ours.decode_tree(
            torch.tensor([path]), torch.tensor([[0, 0, 1, 2]]), torch.tensor([[0, 1, 2, 3]]), enc, mask
        )
        with pytest.raises(Exception, match="cache is full"):
            ours.decode_step(state, torch.tensor([1]))
    assert torch.allclose(ours.project(tree), steps, atol=1e-4, rtol=1e-4)


def test_bf16_scores_stay_close_to_fp32(trained_dir):
    fp32 = T5.from_pretrained(trained_dir).fuse_projections()
    bf16 = T5.from_pretrained(trained_dir, dtype=torch.bfloat16).fuse_projections()
    a, b = score_options(fp32, PROMPTS, OPTIONS), score_options(bf16, PROMPTS, OPTIONS)
    for ra, rb in zip(a, b, strict=True):
        assert [n for _, n in ra] == [n for _, n in rb]
        assert [s for s, _ in rb] == pytest.approx([s for s, _ in ra], abs=0.1 * len(ra) + 0.5)
