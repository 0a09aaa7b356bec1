"""Our T5 against transformers on the same weights: logits, greedy ids, round trips."""

from __future__ import annotations

import torch

from flankit.modeling.t5 import T5
from t5_testing import hf_model, padded_batch

TOL = 1e-4


def greedy(model: T5, ids, mask, steps: int) -> torch.Tensor:
    """Greedy decoding through the incremental path, never emitting EOS (like min_new_tokens)."""
    state = model.start_decoding(model.encode(ids, mask), mask, max_length=steps)
    tok = torch.zeros(ids.shape[0], dtype=torch.long)
    out = []
    for _ in range(steps):
        logits = model.decode_step(state, tok)
        logits[:, model.config.eos_token_id] = -float("inf")
        tok = logits.argmax(-1)
        out.append(tok)
    return torch.stack(out, 1)


def test_logits_match_transformers_with_padding(saved_model):
    ours, folder = saved_model
    ref = hf_model(folder)
    ids, mask = padded_batch(ours.config.vocab_size, [9, 5, 13])
    dec, _ = padded_batch(ours.config.vocab_size, [6, 6, 6], seed=1)
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        b = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
    assert a.shape == b.shape == (3, 6, ours.config.vocab_size)
    assert (a - b).abs().max().item() <= TOL


def test_loss_matches_transformers(saved_model):
    ours, folder = saved_model
    ref = hf_model(folder)
    ids, mask = padded_batch(ours.config.vocab_size, [7, 11])
    labels, _ = padded_batch(ours.config.vocab_size, [4, 6], seed=2)
    labels[labels == 0] = -100
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, labels=labels).loss
        b = ref(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert abs(a.item() - b.item()) <= TOL


def test_greedy_20_tokens_identical_to_transformers_generate(saved_model):
    ours, folder = saved_model
    ref = hf_model(folder)
    ids, mask = padded_batch(ours.config.vocab_size, [10, 4, 15], seed=3)
    mine = greedy(ours, ids, mask, 20)
    with torch.no_grad():
        theirs = ref.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=20,
            min_new_tokens=20,
            do_sample=False,
            num_beams=1,
        )
    assert torch.equal(mine, theirs[:, 1:])


def test_incremental_decoding_equals_full_recomputation(saved_model):
    ours, _ = saved_model
    ids, mask = padded_batch(ours.config.vocab_size, [8, 12], seed=4)
    dec, _ = padded_batch(ours.config.vocab_size, [7, 7], seed=5)
    with torch.no_grad():
        full = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        state = ours.start_decoding(ours.encode(ids, mask), mask, max_length=8)
        steps = torch.stack([ours.decode_step(state, dec[:, t]) for t in range(7)], 1)
    assert (full - steps).abs().max().item() <= 1e-5


def test_dropping_finished_rows_keeps_the_others_exact(saved_model):
    ours, _ = saved_model
    ids, mask = padded_batch(ours.config.vocab_size, [8, 12, 5], seed=6)
    dec, _ = padded_batch(ours.config.vocab_size, [5, 5, 5], seed=7)
    with torch.no_grad():
        full = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        state = ours.start_decoding(ours.encode(ids, mask), mask, max_length=5)
        for t in range(2):
            ours.decode_step(state, dec[:, t])
        state = state.select(torch.tensor([2, 0]))  # row 1 finished; reorder the rest
        rest = torch.stack([ours.decode_step(state, dec[[2, 0], t]) for t in range(2, 5)], 1)
    assert (full[[2, 0], 2:] - rest).abs().max().item() <= 1e-5


def test_transformers_save_loads_in_ours(saved_model, tmp_path):
    ours, folder = saved_model
    ref = hf_model(folder)
    ref.save_pretrained(tmp_path / "hf_saved")
    back = T5.from_pretrained(tmp_path / "hf_saved")
    ids, mask = padded_batch(ours.config.vocab_size, [6, 9], seed=8)
    dec, _ = padded_batch(ours.config.vocab_size, [4, 4], seed=9)
    with torch.no_grad():
        a = back(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        b = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
    assert torch.allclose(a, b, atol=1e-6)


def test_saved_folder_loads_in_transformers_without_missing_or_unexpected_keys(saved_model):
    from transformers import T5ForConditionalGeneration

    _, folder = saved_model
    _, info = T5ForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]


def test_sharded_checkpoint_loads(saved_model, tmp_path):
    ours, folder = saved_model
    hf_model(folder).save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    back = T5.from_pretrained(tmp_path / "sharded")
    mine = ours.state_dict()
    assert set(back.state_dict()) == set(mine)
    for k, v in back.state_dict().items():
        assert torch.equal(v, mine[k]), k


def test_asymmetric_stacks_match_transformers(tmp_path):
    from t5_testing import small_config

    torch.manual_seed(1)
    ours = T5(
        small_config(num_decoder_layers=3, feed_forward_proj="gated-silu", tie_word_embeddings=False)
    ).eval()
    ours.save_pretrained(tmp_path)
    ref = hf_model(tmp_path)
    ids, mask = padded_batch(97, [5, 8])
    dec, _ = padded_batch(97, [3, 3], seed=1)
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        b = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
    assert (a - b).abs().max().item() <= TOL
