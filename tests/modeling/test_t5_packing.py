"""Packed rows (segment ids) give the same per-token logits as examples run one by one."""

from __future__ import annotations

import torch

from flankit.modeling.t5 import T5
from t5_testing import small_config


def test_packed_row_equals_examples_one_by_one():
    torch.manual_seed(0)
    model = T5(small_config(feed_forward_proj="gated-gelu", tie_word_embeddings=False)).eval()
    g = torch.Generator().manual_seed(1)
    examples = [
        (torch.randint(3, 97, (n,), generator=g), torch.randint(3, 97, (m,), generator=g))
        for n, m in [(7, 4), (3, 6), (11, 2)]
    ]
    enc_ids, enc_seg, dec_in, dec_seg = [], [], [], []
    for s, (x, y) in enumerate(examples, start=1):
        enc_ids.append(x)
        enc_seg.append(torch.full_like(x, s))
        dec_in.append(torch.cat([torch.zeros(1, dtype=torch.long), y[:-1]]))  # shift right per segment
        dec_seg.append(torch.full_like(y, s))
    pad_e, pad_d = 4, 3  # trailing padding inside the packed row
    row = lambda parts, pad: torch.cat(parts + [torch.zeros(pad, dtype=torch.long)])[None]  # noqa: E731
    with torch.no_grad():
        packed = model(
            input_ids=row(enc_ids, pad_e),
            encoder_segment_ids=row(enc_seg, pad_e),
            decoder_input_ids=row(dec_in, pad_d),
            decoder_segment_ids=row(dec_seg, pad_d),
        ).logits[0]
        start = 0
        for x, y in examples:
            alone = model(
                input_ids=x[None],
                decoder_input_ids=torch.cat([torch.zeros(1, dtype=torch.long), y[:-1]])[None],
            ).logits[0]
            assert (packed[start : start + len(y)] - alone).abs().max().item() <= 1e-5
            start += len(y)
    assert torch.isfinite(packed).all()
