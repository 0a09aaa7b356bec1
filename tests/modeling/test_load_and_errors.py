"""Loading, sizing and the errors users can cause: missing folder, corrupt config, fp16, offline hub."""

from __future__ import annotations

import json

import pytest
import torch

from flankit.errors import ModelError, OfflineError
from flankit.modeling.info import count_parameters, model_info
from flankit.modeling.load import build_tiny, load_model, load_tokenizer, resolve_dtype
from flankit.modeling.t5 import T5, T5Config
from t5_testing import small_config, tiny_model_dir


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        T5.from_pretrained(tmp_path / "nope")
    with pytest.raises(ModelError, match="does not exist"):
        load_model(str(tmp_path / "nope"))


def test_corrupt_config_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        T5.from_pretrained(tmp_path)


def test_folder_without_weights(tmp_path):
    T5(small_config()).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="has no weights"):
        T5.from_pretrained(tmp_path)


def test_truncated_weights(tmp_path):
    T5(small_config()).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(ModelError, match="cannot read the weights"):
        T5.from_pretrained(tmp_path)


def test_unknown_activation_is_rejected(tmp_path):
    with pytest.raises(ModelError, match="Unknown activation"):
        T5Config(feed_forward_proj="gated-swish")
    with pytest.raises(ModelError, match="not valid"):
        T5Config(feed_forward_proj="double-gated-gelu")
    T5(small_config()).save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["feed_forward_proj"] = "tanh"
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="Unknown activation"):
        T5.from_pretrained(tmp_path)


def test_weights_that_do_not_match_the_config(tmp_path):
    T5(small_config()).save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["d_ff"] = 40
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="shape"):
        T5.from_pretrained(tmp_path)


@pytest.mark.parametrize("name", ["fp16", "float16", torch.float16])
def test_fp16_is_refused_with_the_reason(name):
    with pytest.raises(ModelError, match="overflow"):
        resolve_dtype(name)


def test_unknown_dtype():
    with pytest.raises(ModelError, match="Unknown dtype"):
        resolve_dtype("fp8")


def test_bf16_load(tmp_path):
    tiny_model_dir(tmp_path)
    m = load_model(str(tmp_path), dtype="bf16")
    assert m.dtype == torch.bfloat16
    tok = load_tokenizer(str(tmp_path))
    ids = torch.tensor([tok("the cat sat").input_ids])
    out = m(input_ids=ids, decoder_input_ids=torch.zeros(1, 1, dtype=torch.long)).logits
    assert torch.isfinite(out.float()).all()


def test_tokenizer_follows_t5_conventions(tmp_path):
    _, tok = tiny_model_dir(tmp_path)
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    assert tok.convert_tokens_to_ids("<extra_id_0>") == len(tok) - 1
    assert tok.convert_tokens_to_ids("<extra_id_99>") == len(tok) - 100
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(tmp_path)
    text = "the happy cat sat on the mat <extra_id_0> because"
    assert again(text).input_ids == tok(text).input_ids
    assert again(text).input_ids[-1] == 1
    assert again.decode(again("the cat sat").input_ids, skip_special_tokens=True) == "the cat sat"


def test_hub_id_offline_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="offline"):
        load_model("google/flan-t5-small")


@pytest.mark.parametrize("size", ["tiny", "small", "base"])
def test_parameter_count_formula_matches_the_module(size):
    if size == "base":
        cfg = model_info("base")
        assert 240e6 < cfg.parameters < 260e6  # flan-t5-base has 248M parameters
        return
    model = build_tiny(size, vocab_size=1000)
    assert count_parameters(model.config) == model.num_parameters()


def test_model_info_on_a_folder(tmp_path):
    model, _ = tiny_model_dir(tmp_path)
    mi = model_info(str(tmp_path))
    assert mi.parameters == model.num_parameters()
    assert mi.weight_mb["bf16"] == pytest.approx(mi.weight_mb["fp32"] / 2, abs=0.1)


def test_embedding_std_rescales_only_the_random_input_embeddings(tmp_path):
    plain, small = build_tiny("micro", 500), build_tiny("micro", 500, embedding_std=0.02)
    assert plain.shared.weight.std().item() == pytest.approx(1.0, rel=0.05)  # T5's own draw
    assert small.shared.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert torch.allclose(small.shared.weight, 0.02 * plain.shared.weight)
    others = [(n, p) for n, p in plain.named_parameters() if not n.startswith("shared")]
    assert others and all(torch.equal(p, small.get_parameter(n)) for n, p in others)
    assert load_model("micro", vocab_size=500, embedding_std=0.02).shared.weight.std().item() < 0.03
    tiny_model_dir(tmp_path)
    with pytest.raises(ModelError, match="embedding_std sets the initial embeddings of a random size"):
        load_model(str(tmp_path), embedding_std=0.02)
