"""The training loop end to end on a tiny model: outputs, accumulation, LoRA, span corruption."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from flankit.modeling.t5 import T5
from flankit.training.checkpoint import list_checkpoints
from flankit.training.monitor import read_metrics
from flankit.training.trainer import train


def test_training_lowers_loss_and_writes_a_transformers_model(make_config, tmp_path):
    cfg = make_config(
        "train.steps=40",
        "train.save_every=10",
        "train.keep_last=2",
        "train.precision=bf16",
        "data.validation_file=" + str(tmp_path.parent / "none.jsonl"),
        "data.validation_examples=0",
    )
    summary = train(cfg)
    assert summary["precision"] == "bf16"  # asked for explicitly: kept even where it is emulated
    out = tmp_path / "run"
    metrics = read_metrics(out / "metrics.jsonl")
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert len(losses) == 40 and sum(losses[-5:]) < 0.9 * sum(losses[:5])
    assert all(m["tokens_per_s"] > 0 for m in metrics if "loss" in m)
    assert [p.name for p in list_checkpoints(out)] == ["step-0000030", "step-0000040"]
    assert json.loads((list_checkpoints(out)[-1] / "config.json").read_text())["train"]["steps"] == 40
    assert (out / "loss.png").stat().st_size > 1000
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    hf = T5ForConditionalGeneration.from_pretrained(summary["model_dir"]).eval()
    tok = AutoTokenizer.from_pretrained(summary["model_dir"])
    ours = T5.from_pretrained(summary["model_dir"])
    ids = tok(["does it mention a cat? the cat sat"], return_tensors="pt").input_ids
    with torch.no_grad():
        a = hf(input_ids=ids, decoder_input_ids=torch.zeros(1, 1, dtype=torch.long)).logits
        b = ours(input_ids=ids, decoder_input_ids=torch.zeros(1, 1, dtype=torch.long)).logits
    assert torch.allclose(a, b, atol=1e-4)


def test_grad_accumulation_equals_one_big_batch(make_config):
    big = train(make_config("train.batch_size=4", "train.steps=3", out="big"))
    acc = train(make_config("train.batch_size=2", "train.grad_accum=2", "train.steps=3", out="acc"))
    a, b = T5.from_pretrained(big["model_dir"]), T5.from_pretrained(acc["model_dir"])
    diff = max((pa - pb).abs().max().item() for pa, pb in zip(a.parameters(), b.parameters()))
    assert diff < 1e-5
    assert big["final_loss"] == pytest.approx(acc["final_loss"], rel=1e-5)


def test_word_dropout_changes_the_updates_and_is_reproducible(make_config):
    plain = train(make_config("train.steps=3", out="plain"))
    runs = [train(make_config("train.steps=3", "train.input_dropout=0.3", out=f"drop{i}")) for i in (0, 1)]
    a, b = (T5.from_pretrained(r["model_dir"]) for r in runs)
    assert all(torch.equal(pa, pb) for pa, pb in zip(a.parameters(), b.parameters(), strict=True))
    assert runs[0]["final_loss"] != pytest.approx(plain["final_loss"], rel=1e-4)


def test_word_dropout_spares_special_tokens_and_needs_an_unknown_token(make_config, monkeypatch):
    from flankit.errors import ConfigError
    from flankit.training.trainer import Trainer

    trainer = Trainer(make_config("train.steps=1", "train.input_dropout=0.2", out="spare"))
    trainer.train()
    tok = trainer._tokenizer([])
    unk, keep = trainer._word_dropout
    assert unk == tok.unk_token_id
    sentinel = tok.convert_tokens_to_ids("<extra_id_0>")
    assert {tok.pad_token_id, tok.eos_token_id, sentinel} <= set(keep)  # span corruption keeps its sentinels

    load = Trainer._tokenizer

    def without_unk(self, records):
        tok = load(self, records)
        monkeypatch.setattr(type(tok), "unk_token_id", property(lambda _: None), raising=False)
        return tok

    monkeypatch.setattr(Trainer, "_tokenizer", without_unk)
    with pytest.raises(ConfigError, match="input_dropout replaces tokens by <unk>: this tokenizer has none"):
        train(make_config("train.steps=1", "train.input_dropout=0.2", out="no_unk"))
    train(make_config("train.steps=1", out="no_unk_no_dropout"))  # without word dropout no <unk> is needed


def test_train_step_before_train_refuses_word_dropout_clearly(make_config):
    from flankit.errors import ConfigError
    from flankit.training.trainer import Trainer
    from t5_testing import small_config

    trainer = Trainer(make_config("train.input_dropout=0.2", out="bare_step"))
    trainer.build(T5(small_config()))
    with pytest.raises(ConfigError, match=r"needs the tokenizer's <unk>, which train\(\) reads"):
        trainer.train_step([([5, 6, 1], [7, 1])], [[0]])


def test_validation_loss_and_unpacked_length_grouped_run(make_config, train_file):
    cfg = make_config(
        "data.pack=false",
        f"data.validation_file={train_file}",
        "data.validation_examples=32",
        "train.eval_every=3",
        "train.loss_normalization=sequence",
        "train.z_loss=0.0001",
        "train.optimizer=adafactor",
        "train.schedule=linear",
        "train.warmup_steps=2",
    )
    summary = train(cfg)
    val = [m for m in read_metrics(cfg.output_dir + "/metrics.jsonl") if "val_loss" in m]
    assert [m["step"] for m in val] == [3, 6] and summary["val_loss"] == val[-1]["val_loss"] > 0
    assert summary["precision"] == "fp32"
    lrs = [m["lr"] for m in read_metrics(cfg.output_dir + "/metrics.jsonl") if "lr" in m]
    assert lrs[0] < lrs[1] and lrs[-1] < lrs[2]  # warm-up then linear decay


def test_span_corruption_pretraining_on_text_files(make_config, tmp_path):
    text = tmp_path / "domain.txt"
    text.write_text(
        "\n".join(f"the cat number {i} sat on the mat and the dog ran over the hill" for i in range(300))
    )
    cfg = make_config(
        "train.objective=span_corruption",
        f"data.text_files=[{text}]",
        "data.train_file=null",
        "train.steps=4",
    )
    summary = train(cfg)
    assert summary["final_loss"] > 0 and (tmp_path / "run" / "model" / "model.safetensors").is_file()


def test_lora_trains_adapters_only_and_merges(make_config, model_dir, tmp_path):
    from flankit.modeling.lora import merge_adapter

    cfg = make_config(
        "lora.enabled=true", "lora.r=4", "lora.targets=all-linear", "train.lr=0.01", "train.steps=4"
    )
    summary = train(cfg)
    adapter = tmp_path / "run" / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file() and not (adapter / "model.safetensors").exists()
    merged = merge_adapter(adapter, tmp_path / "merged")
    base, full = T5.from_pretrained(model_dir), T5.from_pretrained(merged)
    changed = [n for (n, a), b in zip(base.named_parameters(), full.parameters()) if not torch.equal(a, b)]
    assert changed and all(
        n.split(".")[-2] in {"q", "k", "v", "o", "wi", "wi_0", "wi_1", "wo"} for n in changed
    )
    assert summary["model_dir"] == str(adapter)
    assert (merged / "tokenizer_config.json").is_file()


def test_qlora_without_cuda_says_so(make_config):
    from flankit.errors import ModelError

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the message is for machines without it")
    with pytest.raises(ModelError, match="CUDA"):
        train(make_config("lora.enabled=true", "lora.quantize_4bit=true"))


def test_overlong_examples_are_counted_then_cut_or_dropped(make_config, tmp_path):
    # the toy inputs run from about 20 to 70 tokens: 40 cuts some of them
    with pytest.warns(
        UserWarning, match=r"inputs? \(.*\) are longer than data.input_length=40.*overlong=drop"
    ):
        cut = train(make_config("data.input_length=40", out="cut"))["truncation"]
    assert cut["overlong"] == "truncate" and cut["dropped"] == 0
    assert 0 < cut["inputs_over"] < cut["examples"] and cut["targets_over"] == 0
    with pytest.warns(UserWarning, match="examples were left out"):
        dropped = train(make_config("data.input_length=40", "data.overlong=drop", out="drop"))["truncation"]
    assert dropped["dropped"] == cut["inputs_over"] and dropped["examples"] == cut["examples"]
    # within the lengths nothing is over and no warning is given
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fits = train(make_config(out="fits"))["truncation"]
    assert fits["inputs_over"] == fits["targets_over"] == 0 and "warning" not in fits


def test_the_trainer_builds_a_random_size_with_the_configured_embedding_std(make_config, model_dir):
    from flankit.errors import ModelError
    from flankit.modeling.load import load_tokenizer
    from flankit.training.trainer import Trainer

    tok = load_tokenizer(model_dir)
    model = Trainer(make_config("model.name=micro", "model.embedding_std=0.05"))._load_model(tok, None)
    assert model.shared.weight.std().item() == pytest.approx(0.05, rel=0.05)
    assert Trainer(make_config("model.name=micro"))._load_model(tok, None).shared.weight.std().item() > 0.9
    with pytest.raises(ModelError, match="is a trained model: leave it unset"):
        train(make_config("model.embedding_std=0.05", out="trained"))
