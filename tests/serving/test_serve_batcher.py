"""Batcher unit tests with a fake runner (no engine, no HTTP)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from flankit.serving.batcher import Batcher, QueueFullError, ShuttingDownError


class Recorder:
    """Fake engine call: echoes payloads upper-cased, raises on 'bad', records each batch."""

    def __init__(self, gate: threading.Event | None = None):
        self.batches: list[list[str]] = []
        self.gate = gate

    def __call__(self, key, payloads):
        if self.gate is not None:
            assert self.gate.wait(10)
        self.batches.append(list(payloads))
        if "bad" in payloads:
            raise ValueError("bad payload")
        return [p.upper() for p in payloads]


def run_all(batcher, jobs, timeout=10):
    async def wait():
        return await asyncio.gather(*(batcher.result(j, timeout) for j in jobs), return_exceptions=True)

    batcher.start()
    try:
        return asyncio.run(wait())
    finally:
        assert batcher.close(10)


def test_compatible_jobs_share_a_batch_and_keys_stay_apart():
    rec = Recorder()
    b = Batcher(rec, window_s=0.05)
    jobs = [b.submit("greedy", p, cost=1) for p in ("a", "b", "c")] + [b.submit("sample", "d", cost=1)]
    assert run_all(b, jobs) == ["A", "B", "C", "D"]
    assert rec.batches == [["a", "b", "c"], ["d"]]


def test_token_budget_and_row_cap_split_batches():
    rec = Recorder()
    b = Batcher(rec, max_batch_tokens=10, max_batch_size=100, window_s=0.0)
    jobs = [b.submit("k", str(i), cost=4) for i in range(5)]
    run_all(b, jobs)
    assert [len(x) for x in rec.batches] == [2, 2, 1]
    rec2 = Recorder()
    b2 = Batcher(rec2, max_batch_size=3, window_s=0.0)
    run_all(b2, [b2.submit("k", str(i), cost=1, rows=2) for i in range(3)])
    assert [len(x) for x in rec2.batches] == [1, 1, 1]


def test_oldest_job_leads_the_next_batch():
    rec = Recorder()
    b = Batcher(rec, window_s=0.0)
    jobs = [b.submit("old", "o", cost=1), b.submit("new", "n1", cost=1), b.submit("new", "n2", cost=1)]
    run_all(b, jobs)
    assert rec.batches == [["o"], ["n1", "n2"]]


def test_failed_batch_is_retried_one_by_one():
    rec = Recorder()
    b = Batcher(rec, window_s=0.05)
    jobs = [b.submit("k", p, cost=1) for p in ("x", "bad", "y")]
    out = run_all(b, jobs)
    assert out[0] == "X" and out[2] == "Y"
    assert isinstance(out[1], ValueError)
    assert rec.batches == [["x", "bad", "y"], ["x"], ["bad"], ["y"]]


def test_unbatched_mode_runs_one_job_per_call():
    rec = Recorder()
    b = Batcher(rec, batching=False, window_s=1.0)
    run_all(b, [b.submit("k", p, cost=1) for p in "abc"])
    assert rec.batches == [["a"], ["b"], ["c"]]


def test_queue_bound_cancel_and_close():
    gate = threading.Event()
    rec = Recorder(gate)
    b = Batcher(rec, max_queue=2, window_s=0.0)
    first = b.submit("k", "first", cost=1)
    b.start()
    second = b.submit("other", "second", cost=1)
    with pytest.raises(QueueFullError, match="busy"):
        b.submit("k", "third", cost=1)
    b.cancel(second)  # a waiting job is dropped and its slot is free again
    assert b.admitted == 1
    third = b.submit("k", "third", cost=1)
    gate.set()
    assert asyncio.run(b.result(first, 10)) == "FIRST"
    assert asyncio.run(b.result(third, 10)) == "THIRD"
    assert ["second"] not in rec.batches and b.admitted == 0
    assert b.close(5)
    with pytest.raises(ShuttingDownError):
        b.submit("k", "late", cost=1)


def test_timeout_cancels_and_close_drains_admitted_jobs():
    gate = threading.Event()
    rec = Recorder(gate)
    b = Batcher(rec, window_s=0.0)
    slow = b.submit("k", "slow", cost=1)
    b.start()
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(b.result(slow, 0.05))
    assert b.admitted == 0  # the caller left: its slot is back even though the call still runs
    queued = b.submit("other", "queued", cost=1)
    closer = threading.Thread(target=b.close, args=(10,))
    closer.start()
    gate.set()
    closer.join(10)
    assert queued.future.result(0) == "QUEUED"  # admitted before close: finished, not dropped


def test_generation_keys_batch_greedy_freely_and_isolate_seeded_sampling():
    from flankit.inference.engine import GenerationConfig
    from flankit.serving.jobs import generation_key

    greedy = GenerationConfig(max_new_tokens=8)
    assert generation_key(greedy) == generation_key(GenerationConfig(max_new_tokens=8, seed=3, top_p=0.5))
    assert generation_key(greedy) != generation_key(GenerationConfig(max_new_tokens=9))
    sampled = GenerationConfig(max_new_tokens=8, do_sample=True, seed=1)
    assert generation_key(sampled) != generation_key(sampled)  # a seeded sample always runs alone
    unseeded = GenerationConfig(max_new_tokens=8, do_sample=True)
    assert generation_key(unseeded) == generation_key(unseeded)
