"""Rank classification: the log-likelihood of each answer option, one encoder pass per prompt.

How: the options of a prompt become one prefix tree of decoder inputs (`OptionTree`): the start
token once, then each option's tokens, with prefixes that several options share stored once.
One decoder row holds the whole tree (`T5.decode_tree`: each node sits at its depth and sees
only its ancestors), so all options of a prompt read one copy of its encoder states and
cross-attention K/V, and the start token (and any shared prefix) is computed once. The
vocabulary head runs on the tree's nodes only; each option sums log p(token) over its tokens
(EOS included, as transformers' `labels` loss counts it).

Rows are planned in length-sorted buckets under a token budget (prompt plus tree tokens per
row); a prompt with very many or very long options is split over several rows of at most
`max_nodes` nodes, which then share one encoder pass but not their cross-attention K/V.

Compared with scoring each option by a full forward pass (T0-style), this saves the encoder,
the cross K/V projections and the shared decoder positions for every option after the first.

Reference: Sanh et al. 2022 (T0) and Brown et al. 2020 for rank classification by likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from flankit.inference.decoding import encode_padded, plan_batches


@dataclass
class OptionTree:
    """Prefix tree of the teacher-forced decoder inputs of some options of one prompt."""

    prompt: int  # index of the prompt the options belong to
    tokens: list[int]
    parents: list[int] = field(default_factory=lambda: [0])  # the root is its own parent
    depths: list[int] = field(default_factory=lambda: [0])
    picks: list[tuple[int, list[int]]] = field(default_factory=list)  # (option index, node per token)
    children: dict[tuple[int, int], int] = field(default_factory=dict)

    def add(self, index: int, option: Sequence[int]) -> None:
        """Add option `index`: its token i is predicted by the node of its first i tokens."""
        node, nodes = 0, []
        for i, tok in enumerate(option):
            nodes.append(node)
            if i + 1 == len(option):
                break  # the last token is only a target, never an input
            key = (node, int(tok))
            if key not in self.children:
                self.children[key] = len(self.tokens)
                self.tokens.append(int(tok))
                self.parents.append(node)
                self.depths.append(self.depths[node] + 1)
            node = self.children[key]
        self.picks.append((index, nodes))


def build_trees(options: Sequence[Sequence[Sequence[int]]], start: int, max_nodes: int) -> list[OptionTree]:
    """Per prompt, its options as trees of at most `max_nodes` nodes (a longer option gets its own)."""
    trees = []
    for p, opts in enumerate(options):
        tree = OptionTree(p, [start])
        for j, opt in enumerate(opts):
            if tree.picks and len(tree.tokens) + len(opt) - 1 > max_nodes:
                trees.append(tree)
                tree = OptionTree(p, [start])
            tree.add(j, opt)
        trees.append(tree)
    return trees


def _pad(rows: list[list[int]], fill: list[int] | int) -> torch.Tensor:
    """Right-pad int lists to [B, width]; `fill` is a value or, per position, a list of values."""
    width = max(len(r) for r in rows)
    out = torch.tensor([fill] * width if isinstance(fill, int) else fill[:width]).repeat(len(rows), 1)
    for b, r in enumerate(rows):
        out[b, : len(r)] = torch.tensor(r)
    return out


@torch.inference_mode()
def score_options(
    model,
    prompts: Sequence[Sequence[int]],
    options: Sequence[Sequence[Sequence[int]]],
    token_budget: int = 16384,
    max_batch: int = 64,
    max_nodes: int = 256,
) -> list[list[tuple[float, int]]]:
    """Per prompt, per option: (summed log-likelihood, number of option tokens).

    Args:
        model: flankit T5.
        prompts: prompt token ids (EOS included).
        options: per prompt, the option token ids (EOS included).
        token_budget: padded (prompt + tree) tokens allowed per bucket.
        max_batch: most rows per bucket.
        max_nodes: most tree nodes per row (bounds the [rows, heads, nodes, nodes] attention mask).
    """
    c = model.config
    trees = build_trees(options, c.decoder_start_token_id, max_nodes)
    out: list[list[tuple[float, int]]] = [[(0.0, len(o)) for o in opts] for opts in options]
    lengths = [len(prompts[t.prompt]) + len(t.tokens) for t in trees]
    for batch in plan_batches(lengths, token_budget, max_batch):
        rows = [trees[i] for i in batch]
        owners = list(dict.fromkeys(t.prompt for t in rows))
        enc, mask = encode_padded(model, [prompts[p] for p in owners])
        if len(owners) < len(rows):  # a prompt split over several rows: copy its encoder states
            pick = torch.tensor([owners.index(t.prompt) for t in rows])
            enc, mask = enc[pick], mask[pick]
        width = max(len(t.tokens) for t in rows)
        hidden = model.decode_tree(
            _pad([t.tokens for t in rows], c.pad_token_id),
            _pad([t.parents for t in rows], list(range(width))),  # padding nodes: their own parents
            _pad([t.depths for t in rows], 0),
            enc,
            mask,
        )
        # the vocabulary head and its log-softmax dominate: run them on real nodes only
        sizes = [len(t.tokens) for t in rows]
        real = torch.arange(width)[None, :] < torch.tensor(sizes)[:, None]
        logp = model.project(hidden[real]).float().log_softmax(-1)
        node_idx, token_idx, slot, owner = [], [], [], []
        offset = 0
        for tree, size in zip(rows, sizes, strict=True):
            for j, nodes in tree.picks:
                node_idx += [offset + n for n in nodes]
                token_idx += options[tree.prompt][j]
                slot += [len(owner)] * len(nodes)
                owner.append((tree.prompt, j))
            offset += size
        picked = logp[torch.tensor(node_idx), torch.tensor(token_idx)].double()
        sums = torch.zeros(len(owner), dtype=torch.float64).index_add_(0, torch.tensor(slot), picked).tolist()
        for (p, j), total in zip(owner, sums, strict=True):
            out[p][j] = (total, len(options[p][j]))
    return out
