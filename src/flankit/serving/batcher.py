"""Dynamic batching queue between the asyncio HTTP front end and a synchronous engine.

How it works:
* `submit(key, payload, cost, rows)` admits a job (bounded: `QueueFullError` -> 429 when
  `max_queue` jobs are already waiting or running) and returns it; `await result(job, timeout)`
  waits for its answer (`TimeoutError` -> 504) and cancels the job when the caller goes away.
* One worker thread runs the engine (it is sync and CPU-bound; one caller at a time keeps the
  cores busy without thrashing). When idle it lets the oldest job wait `window_s` for others to
  arrive, then takes every waiting job with the same `key` (same decoding settings, so they
  can share one engine call) until `max_batch_tokens` or `max_batch_size` rows is reached.
  The oldest job always starts the next batch, so no job is overtaken forever.
* A batch whose engine call raises is retried one job at a time, so only the job that really
  fails gets the error; the others still succeed.
* A job cancelled while waiting never reaches the engine; one whose caller leaves while it runs
  gives its slot back at once (the engine call it is part of cannot be interrupted).
* `close()` stops admissions, finishes what was admitted, and joins the worker.

Granularity: the engine contract exposes whole-batch `generate`/`classify` only, so batching
happens at request granularity (a request joins the next batch, not a running decode). This
is "dynamic batching" as in Triton/TF-Serving, not vLLM-style continuous batching.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


class QueueFullError(Exception):
    """The server already holds `max_queue` requests."""


class ShuttingDownError(Exception):
    """The server is shutting down and takes no new requests."""


@dataclass(eq=False)
class Job:
    """One admitted request: rows that must run together under one decoding `key`."""

    key: Hashable
    payload: Any
    cost: int
    rows: int = 1
    future: Future = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)
    holds_slot: bool = True


Runner = Callable[[Hashable, list[Any]], list[Any]]


class Batcher:
    """Collects jobs into batches and runs them on a worker thread with `run(key, payloads)`.

    Args:
        run: called on the worker thread with a batch's shared key and its payloads; returns
            one result per payload, in order.
        max_batch_tokens: token budget of one batch (sum of the jobs' `cost`).
        max_batch_size: most rows in one batch.
        window_s: how long an idle worker waits for more jobs after the first one arrives.
        max_queue: most jobs admitted at once (waiting plus running).
        batching: False gives one job per engine call (the baseline the benchmark compares to).
        on_batch: called with (jobs, rows, tokens) for each batch, for metrics.
    """

    def __init__(
        self,
        run: Runner,
        *,
        max_batch_tokens: int = 4096,
        max_batch_size: int = 64,
        window_s: float = 0.01,
        max_queue: int = 256,
        batching: bool = True,
        on_batch: Callable[[int, int, int], None] | None = None,
    ):
        self._run = run
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.window_s = window_s if batching else 0.0
        self.max_queue = max_queue
        self.batching = batching
        self._on_batch = on_batch
        self._queue: deque[Job] = deque()
        self._cond = threading.Condition()
        self._admitted = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    # ---- state -------------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Jobs waiting for the engine."""
        return len(self._queue)

    @property
    def admitted(self) -> int:
        """Jobs holding a slot (waiting or running); at most `max_queue`."""
        return self._admitted

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="flankit-batcher", daemon=True)
            self._thread.start()

    # ---- front end (event loop side) -----------------------------------------------------
    def submit(self, key: Hashable, payload: Any, cost: int, rows: int = 1) -> Job:
        """Admit a job or raise `QueueFullError` / `ShuttingDownError`."""
        job = Job(key=key, payload=payload, cost=cost, rows=rows)
        with self._cond:
            if self._closing:
                raise ShuttingDownError("the server is shutting down")
            if self._admitted >= self.max_queue:
                raise QueueFullError(f"the server is busy ({self._admitted} requests queued); retry shortly")
            self._admitted += 1
            self._queue.append(job)
            self._cond.notify_all()
        return job

    async def result(self, job: Job, timeout: float) -> Any:
        """The job's result; cancels the job on timeout or when the awaiting task is cancelled."""
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job.future), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self.cancel(job)
            raise

    def cancel(self, job: Job) -> None:
        """Drop a waiting job, or give back the slot of a running one (its result is discarded)."""
        with self._cond:
            job.future.cancel()  # fails (harmlessly) when the job already runs
            if job in self._queue:
                self._queue.remove(job)
            self._release(job)
            self._cond.notify_all()

    def close(self, timeout: float | None = None) -> bool:
        """Stop admitting, finish admitted jobs, join the worker; False if it did not finish in time."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    # ---- worker side ---------------------------------------------------------------------
    def _release(self, job: Job) -> None:
        # called with the lock held; a job's slot is given back exactly once
        if job.holds_slot:
            job.holds_slot = False
            self._admitted -= 1

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return  # closing and drained
                deadline = self._queue[0].enqueued + self.window_s
                while self._queue and not self._closing and not self._full(self._queue[0].key):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = self._take()
            if batch:
                self._execute(batch)

    def _compatible(self, key: Hashable) -> list[Job]:
        return [j for j in self._queue if j.key == key and not j.future.cancelled()]

    def _full(self, key: Hashable) -> bool:
        jobs = self._compatible(key)
        return (
            sum(j.cost for j in jobs) >= self.max_batch_tokens
            or sum(j.rows for j in jobs) >= self.max_batch_size
        )

    def _take(self) -> list[Job]:
        """Remove and return the next batch (lock held): the oldest job plus compatible ones that fit."""
        batch: list[Job] = []
        cost = rows = 0
        key = self._queue[0].key if self._queue else None
        for job in list(self._queue):
            if job.key != key:
                continue
            if batch and (
                not self.batching
                or cost + job.cost > self.max_batch_tokens
                or rows + job.rows > self.max_batch_size
            ):
                continue  # a later, smaller job may still fit; this one leads a following batch
            self._queue.remove(job)
            if job.future.set_running_or_notify_cancel():
                batch.append(job)
                cost += job.cost
                rows += job.rows
        return batch

    def _finish(self, job: Job, result: Any = None, error: BaseException | None = None) -> None:
        with self._cond:
            self._release(job)
            self._cond.notify_all()
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    def _execute(self, batch: list[Job]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(batch), sum(j.rows for j in batch), sum(j.cost for j in batch))
        try:
            results = self._run(batch[0].key, [j.payload for j in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"engine returned {len(results)} results for {len(batch)} requests")
        except Exception as exc:
            if len(batch) == 1:
                self._finish(batch[0], error=exc)
                return
            # retry one by one so a single bad request fails alone; skip callers that left
            for job in batch:
                if not job.holds_slot:
                    self._finish(job, error=exc)
                    continue
                try:
                    self._finish(job, result=self._run(job.key, [job.payload])[0])
                except Exception as one_exc:
                    self._finish(job, error=one_exc)
            return
        for job, res in zip(batch, results, strict=True):
            self._finish(job, result=res)
