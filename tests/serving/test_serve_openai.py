"""The official `openai` client against a live loopback server with a tiny real model."""

from __future__ import annotations

import openai
import pytest

MODEL = "tiny-test"  # the name conftest serves under


def client(url, key="unused"):
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def test_completion_matches_engine_and_counts_usage(shared_url, engine):
    prompts = ["the cat sat on the mat", "is the movie great"]
    resp = client(shared_url).completions.create(model=MODEL, prompt=prompts, max_tokens=6)
    expected = engine.generate(prompts, max_new_tokens=6)
    assert resp.object == "text_completion" and resp.model == MODEL
    assert [c.index for c in resp.choices] == [0, 1]
    assert [c.text for c in resp.choices] == [g.text for g in expected]
    assert [c.finish_reason for c in resp.choices] == [g.finish_reason for g in expected]
    assert resp.usage.prompt_tokens == sum(engine.count_tokens(p) for p in prompts)
    assert resp.usage.completion_tokens == sum(len(g.token_ids) for g in expected)
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


def test_sampling_with_n_and_seed_is_reproducible(shared_url):
    c = client(shared_url)
    kw = dict(model=MODEL, prompt=["one two three", "a dog ran"], max_tokens=8, n=3, temperature=1.5, seed=7)
    first, second = c.completions.create(**kw), c.completions.create(**kw)
    assert len(first.choices) == 6 and [ch.index for ch in first.choices] == list(range(6))
    assert [ch.text for ch in first.choices] == [ch.text for ch in second.choices]


def test_streaming_sends_chunks_usage_and_done(shared_url, engine):
    chunks = list(
        client(shared_url).completions.create(
            model=MODEL,
            prompt="the dog ran over the hill",
            max_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text_chunks = [ch for ch in chunks if ch.choices]
    assert (
        "".join(ch.choices[0].text for ch in text_chunks)
        == engine.generate(["the dog ran over the hill"], max_new_tokens=5)[0].text
    )
    assert text_chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == engine.count_tokens(
        "the dog ran over the hill"
    )


@pytest.mark.parametrize(
    "kwargs, status, fragment",
    [
        (dict(max_tokens=100000), openai.BadRequestError, "max_tokens is 100000"),
        (dict(max_tokens=0), openai.BadRequestError, "between 1 and"),
        (dict(n=2), openai.BadRequestError, "n > 1 needs temperature > 0"),
        (dict(logprobs=2), openai.BadRequestError, "logprobs are not supported"),
        (dict(top_p=0.0, temperature=1.0), openai.BadRequestError, "top_p must be in (0, 1]"),
        (dict(stop=["a", "b", "c", "d", "e"]), openai.BadRequestError, "up to 4"),
        (dict(model="gpt-4"), openai.NotFoundError, "does not exist"),
        (dict(extra_body={"temprature": 1}), openai.BadRequestError, "Unrecognized request argument"),
    ],
)
def test_bad_requests_raise_client_errors_with_messages(shared_url, kwargs, status, fragment):
    args = dict(model=MODEL, prompt="the cat", max_tokens=4) | kwargs
    with pytest.raises(status) as info:
        client(shared_url).completions.create(**args)
    assert fragment in info.value.message


def test_prompt_over_token_limit_is_400(serve, engine):
    url, _, _ = serve(engine, max_prompt_tokens=8)
    with pytest.raises(openai.BadRequestError) as info:
        client(url).completions.create(model=MODEL, prompt="the cat sat on the mat " * 5, max_tokens=4)
    assert "accepts at most 8 prompt tokens" in info.value.message
    assert info.value.code == "context_length_exceeded"


def test_api_key_required_when_set(serve, engine):
    url, _, _ = serve(engine, api_key="s3cret")
    with pytest.raises(openai.AuthenticationError) as info:
        client(url, key="wrong").completions.create(model=MODEL, prompt="hi there", max_tokens=2)
    assert "API key" in info.value.message
    ok = client(url, key="s3cret").completions.create(model=MODEL, prompt="hi there", max_tokens=2)
    assert len(ok.choices) == 1
    assert [m.id for m in client(url, key="s3cret").models.list()] == [MODEL]


def test_models_endpoint(shared_url):
    c = client(shared_url)
    assert [m.id for m in c.models.list()] == [MODEL]
    assert c.models.retrieve(MODEL).owned_by == "flankit"
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("nope")
