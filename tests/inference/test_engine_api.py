"""Engine API: parity with transformers (greedy ids, classify log-likelihoods), results, bad input."""

from __future__ import annotations

import pytest
import torch

from flankit import Engine, GenerationConfig
from flankit.errors import ConfigError, FlankitError, InputTooLongError, UnknownNameError
from t5_testing import hf_model

PROMPTS = ["the cat sat on the mat", "a dog", "one two three four five six seven eight nine", "happy movie"]


@pytest.fixture(scope="module")
def engine(trained_dir):
    return Engine.from_pretrained(trained_dir)


def hf_ids(model, tok, prompts, **kw):
    enc = tok(prompts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**enc, do_sample=False, **kw)
    rows = []
    for row in out[:, 1:].tolist():
        row = row[: row.index(1)] if 1 in row else row
        rows.append([t for t in row if t != 0])
    return rows


@pytest.mark.parametrize(
    "kw", [{}, {"no_repeat_ngram_size": 2}, {"repetition_penalty": 1.3}, {"min_new_tokens": 6}]
)
def test_greedy_ids_equal_transformers(engine, trained_dir, kw):
    ref = hf_ids(hf_model(trained_dir), engine.tokenizer, PROMPTS, max_new_tokens=12, **kw)
    out = engine.generate(PROMPTS, max_new_tokens=12, **kw)
    assert [g.token_ids for g in out] == ref
    assert any(ref)  # the trained model produces real text, not just EOS


def test_generation_object(engine):
    out = engine.generate(PROMPTS[:2], GenerationConfig(max_new_tokens=3))
    assert isinstance(out[0], str) and out[0].text == str(out[0])
    assert out[0].finish_reason in ("stop", "length") and out[0].sequences == [out[0].text]
    # min_new_tokens: the first token may not be EOS, whatever the model prefers on this CPU
    long = engine.generate(["one two three"], max_new_tokens=1, min_new_tokens=1)[0]
    assert long.finish_reason == "length" and len(long.token_ids) == 1


def test_classify_matches_transformers(engine, trained_dir):
    options = ["cat the", "mat", "dog a happy", "nine"]
    tok, model = engine.tokenizer, hf_model(trained_dir)
    got = engine.classify(PROMPTS, options, normalize="sum")
    for prompt, choice in zip(PROMPTS, got, strict=True):
        for opt in options:
            labels = tok([opt], return_tensors="pt").input_ids
            with torch.inference_mode():
                logp = model(**tok([prompt], return_tensors="pt"), labels=labels).logits.log_softmax(-1)
            ref = logp.gather(2, labels[..., None]).sum().item()
            assert choice.scores[opt] == pytest.approx(ref, abs=1e-4)
        assert choice.choice == max(choice.scores, key=choice.scores.get) == options[choice.index]
        assert sum(choice.probs.values()) == pytest.approx(1.0)
    mean = engine.classify(PROMPTS[:1], options)[0]
    n = len(tok("dog a happy").input_ids)
    assert mean.scores["dog a happy"] == pytest.approx(got[0].scores["dog a happy"] / n, abs=1e-4)


def test_classify_per_prompt_options(engine):
    out = engine.classify(PROMPTS[:2], [["yes", "no"], ["a", "b", "c"]])
    assert set(out[0].scores) == {"yes", "no"} and set(out[1].scores) == {"a", "b", "c"}


def test_stop_strings_cut_text(engine):
    free = engine.generate(PROMPTS, max_new_tokens=12)
    word = next(g.split()[1] for g in free if len(g.split()) > 2)
    out = engine.generate(PROMPTS, max_new_tokens=12, stop=[word])
    for f, g in zip(free, out, strict=True):
        if word in f:
            assert g.text == f[: f.find(word)] and g.finish_reason == "stop"
            assert len(g.token_ids) <= len(f.token_ids)
        else:
            assert g.text == f.text


def test_sampling_is_seeded(engine):
    cfg = GenerationConfig(do_sample=True, temperature=1.5, top_k=50, top_p=0.95, max_new_tokens=10, seed=7)
    a, b = engine.generate(PROMPTS, cfg), engine.generate(PROMPTS, cfg)
    c = engine.generate(PROMPTS, cfg, seed=8)
    assert [x.token_ids for x in a] == [x.token_ids for x in b]
    assert [x.token_ids for x in a] != [x.token_ids for x in c]
    many = engine.generate(PROMPTS[:1], cfg, num_return_sequences=4)[0]
    assert len(many.sequences) == 4 and len(set(many.sequences)) > 1


def test_top_k_one_is_greedy(engine):
    greedy = engine.generate(PROMPTS, max_new_tokens=8)
    sampled = engine.generate(PROMPTS, max_new_tokens=8, do_sample=True, top_k=1, seed=0)
    assert [g.token_ids for g in greedy] == [s.token_ids for s in sampled]


@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_low_precision_engines_run(trained_dir, dtype):
    eng = Engine.from_pretrained(trained_dir, dtype=dtype)
    ref = Engine.from_pretrained(trained_dir).generate(PROMPTS, max_new_tokens=8)
    out = eng.generate(PROMPTS, max_new_tokens=8)
    agree = sum(a.token_ids == b.token_ids for a, b in zip(ref, out, strict=True))
    assert agree >= len(PROMPTS) - 1


def test_bad_inputs(engine, trained_dir):
    with pytest.raises(FlankitError, match="empty"):
        engine.generate(["ok", "  "])
    with pytest.raises(FlankitError, match="list"):
        engine.generate("a single string")
    with pytest.raises(UnknownNameError, match="native"):
        Engine.from_pretrained(trained_dir, backend="nativ")
    with pytest.raises(UnknownNameError, match="bf16"):
        Engine.from_pretrained(trained_dir, dtype="fp16")
    with pytest.raises(FlankitError, match="empty"):
        engine.classify(PROMPTS, [])
    with pytest.raises(FlankitError, match="duplicates"):
        engine.classify(PROMPTS, ["yes", "no", "yes"])
    with pytest.raises(ConfigError, match="max_new_tokens"):
        engine.generate(PROMPTS, max_new_token=3)
    with pytest.raises(ConfigError, match="num_beams"):
        engine.generate(PROMPTS, num_beams=9)
    with pytest.raises(ConfigError, match="num_return_sequences"):
        engine.generate(PROMPTS, num_return_sequences=2)


def test_long_prompts_raise_or_truncate_with_warning(trained_dir):
    eng = Engine.from_pretrained(trained_dir, max_input_tokens=16)
    text = " ".join(["cat"] * 40)
    with pytest.raises(InputTooLongError, match="truncate=True"):
        eng.generate([text])
    with pytest.raises(InputTooLongError):
        eng.classify([text], ["yes", "no"])
    n = eng.count_tokens(text)
    with pytest.warns(UserWarning, match=f"truncated {n - 16} tokens"):
        out = eng.generate([text], max_new_tokens=2, truncate=True)
    assert len(out) == 1


def test_tokenizer_of_another_model_is_refused(tmp_path):
    from flankit.errors import ModelError
    from flankit.inference.engine import Engine
    from flankit.modeling.t5 import T5
    from t5_testing import small_config, tiny_model_dir

    _, tok = tiny_model_dir(tmp_path)
    T5(small_config(vocab_size=len(tok) - 50)).save_pretrained(tmp_path)  # weights of a smaller-vocab model
    with pytest.raises(ModelError, match="do not belong together"):
        Engine.from_pretrained(str(tmp_path))
