"""Load and fault behaviour on a live server: 429, freed slots, per-request 500, 504, shutdown."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

SLOW = {"prompt": "SLOW the cat sat", "max_tokens": 3}


def post(url, body, **kw):
    return httpx.post(f"{url}/v1/completions", json=body, timeout=kw.pop("timeout", 30), **kw)


def in_background(fn, *args):
    pool = ThreadPoolExecutor(1)
    return pool, pool.submit(fn, *args)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def health(url):
    return httpx.get(f"{url}/health").json()


def test_queue_overflow_gives_429_and_server_stays_healthy(serve, faulty):
    url, _, _ = serve(faulty, max_queue=2, batch_window_ms=0)
    pool, slow = in_background(post, url, SLOW)
    assert faulty.entered.wait(10)
    with ThreadPoolExecutor(6) as ex:
        futures = [ex.submit(post, url, {"prompt": f"a dog ran {i}", "max_tokens": 2}) for i in range(6)]
        wait_for(lambda: sum(f.done() for f in futures) >= 5)  # one is admitted and waits behind SLOW
        rejected = [f.result() for f in futures if f.done()]
        assert [r.status_code for r in rejected] == [429] * 5
        assert rejected[0].json()["error"]["type"] == "rate_limit_error"
        with pytest.raises(openai.RateLimitError):  # the openai client maps it (retries disabled)
            openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0).completions.create(
                model="tiny-test", prompt="one more", max_tokens=2
            )
        assert health(url)["admitted"] == 2
        faulty.release.set()
        replies = [f.result() for f in futures]
    assert sorted(r.status_code for r in replies) == [200] + [429] * 5
    assert slow.result().status_code == 200
    pool.shutdown()
    state = health(url)
    assert (state["status"], state["admitted"], state["queue_depth"]) == ("ok", 0, 0)
    assert post(url, {"prompt": "after the storm", "max_tokens": 2}).status_code == 200
    assert 'flankit_rejected_requests_total{reason="queue_full"} 6.0' in httpx.get(f"{url}/metrics").text


def test_killed_stream_client_frees_its_slot_and_work(serve, faulty):
    url, _, _ = serve(faulty, max_queue=2, batch_window_ms=0)
    pool, slow = in_background(post, url, SLOW)
    assert faulty.entered.wait(10)
    body = {"prompt": "the bird flew over the tree", "max_tokens": 3, "stream": True}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{url}/v1/completions", json=body) as resp,
    ):
        assert resp.status_code == 200
        assert health(url)["admitted"] == 2
    # the connection is closed: the server cancels the queued job and gives its slot back
    wait_for(lambda: health(url)["admitted"] == 1)
    pool2, late = in_background(post, url, {"prompt": "a happy dog", "max_tokens": 2})
    wait_for(lambda: health(url)["admitted"] == 2)
    faulty.release.set()
    assert slow.result().status_code == 200 and late.result().status_code == 200
    assert not any("the bird flew" in p for call in faulty.calls for p in call)
    pool.shutdown()
    pool2.shutdown()


def test_plain_client_timeout_cancels_queued_work(serve, faulty):
    url, _, _ = serve(faulty, batch_window_ms=0)
    pool, slow = in_background(post, url, SLOW)
    assert faulty.entered.wait(10)
    with pytest.raises(httpx.ReadTimeout):
        post(url, {"prompt": "the sad actor", "max_tokens": 2}, timeout=0.5)
    wait_for(lambda: health(url)["admitted"] == 1)
    faulty.release.set()
    assert slow.result().status_code == 200
    assert not any("the sad actor" in p for call in faulty.calls for p in call)
    pool.shutdown()


def test_engine_exception_fails_only_that_request(serve, faulty, engine):
    url, _, _ = serve(faulty, batch_window_ms=300)
    prompts = ["the cat sat", "BOOM the dog", "a bird flew", "one two three"]
    with ThreadPoolExecutor(4) as ex:
        replies = list(ex.map(lambda p: post(url, {"prompt": p, "max_tokens": 4}), prompts))
    assert [r.status_code for r in replies] == [200, 500, 200, 200]
    err = replies[1].json()["error"]
    assert "injected engine failure" in err["message"] and err["code"] == "engine_error"
    expected = engine.generate([prompts[0], prompts[2], prompts[3]], max_new_tokens=4)
    assert [replies[i].json()["choices"][0]["text"] for i in (0, 2, 3)] == [g.text for g in expected]
    assert any(len(call) > 1 and any("BOOM" in p for p in call) for call in faulty.calls)  # it was batched
    with pytest.raises(openai.InternalServerError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0).completions.create(
            model="tiny-test", prompt="BOOM again", max_tokens=2
        )
    assert health(url)["status"] == "ok"


def test_request_timeout_gives_504(serve, faulty):
    url, _, _ = serve(faulty, request_timeout_s=0.5)
    start = time.monotonic()
    r = post(url, SLOW)
    assert r.status_code == 504 and "did not finish within 0.5s" in r.json()["error"]["message"]
    assert time.monotonic() - start < 5
    faulty.release.set()
    assert post(url, {"prompt": "a dog", "max_tokens": 2}).status_code == 200


def test_graceful_shutdown_finishes_in_flight_requests(serve, faulty):
    url, _, server = serve(faulty)
    pool, slow = in_background(post, url, SLOW)
    assert faulty.entered.wait(10)
    server.should_exit = True  # what SIGTERM / Ctrl-C does
    time.sleep(0.3)
    with pytest.raises(httpx.TransportError):  # the listener is closed: no new work is taken
        post(url, {"prompt": "too late", "max_tokens": 2}, timeout=2)
    faulty.release.set()
    reply = slow.result(timeout=15)
    assert reply.status_code == 200 and reply.json()["choices"][0]["finish_reason"] in ("stop", "length")
    pool.shutdown()
