"""The server's request-independent core: limits, prompt guard, queue admission and waiting.

`Service` sits between the HTTP routes (`flankit.serving.app`) and the `Batcher`: it checks
prompts against the token limit and the prompt guard, admits work to the bounded queue, and
waits for a result while watching for timeouts and client disconnects, turning every failure
into an `ApiError` with the right status (400, 429, 499, 500, 503, 504).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from flankit.errors import FlankitError
from flankit.serving.batcher import Batcher, Job, QueueFullError, ShuttingDownError
from flankit.serving.jobs import run_batch
from flankit.serving.metrics import ServerMetrics
from flankit.serving.schemas import ApiError
from flankit.serving.settings import ServeSettings

DISCONNECT_POLL_S = 0.1


class Service:
    """Shared state of one app: engine, settings, metrics, batcher, prompt registry and guard."""

    def __init__(self, engine, settings: ServeSettings, metrics: ServerMetrics, prompts=None, guard=None):
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.prompts = prompts
        self.guard = guard
        self.created = int(time.time())
        self.batcher = Batcher(
            lambda key, payloads: run_batch(engine, key, payloads),
            max_batch_tokens=settings.max_batch_tokens,
            max_batch_size=settings.max_batch_size,
            window_s=settings.batch_window_ms / 1000,
            max_queue=settings.max_queue,
            batching=settings.batching,
            on_batch=metrics.observe_batch,
        )
        metrics.watch_queue(lambda: self.batcher.depth, lambda: self.batcher.admitted)
        engine_limit = getattr(engine, "max_input_tokens", None) or settings.max_prompt_tokens
        self.max_prompt_tokens = min(settings.max_prompt_tokens, engine_limit)

    # ---- checks --------------------------------------------------------------------------
    def check_model(self, model: str | None) -> None:
        if model is not None and model != self.settings.model_name:
            raise ApiError(
                404,
                f"The model {model!r} does not exist on this server; it serves "
                f"{self.settings.model_name!r} (see GET /v1/models).",
                param="model",
                code="model_not_found",
            )

    def prompt_list(self, prompt: str | list[str]) -> list[str]:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts:
            raise ApiError(400, "prompt is an empty list; send a string or a list of strings", param="prompt")
        if len(prompts) > self.settings.max_prompts:
            raise ApiError(
                400,
                f"{len(prompts)} prompts in one request; the limit is {self.settings.max_prompts} "
                "(max_prompts). Split them over several requests.",
                param="prompt",
            )
        for i, p in enumerate(prompts):
            if not p.strip():
                raise ApiError(400, f"prompt {i} is empty; every prompt needs some text", param="prompt")
        return prompts

    def reject(self, reason: str, message: str, *, status: int = 400, param: str | None = None) -> ApiError:
        """Count a refusal under `reason` (Prometheus label and error code) and build its error."""
        self.metrics.rejected.labels(reason).inc()
        return ApiError(status, message, param=param, code=reason)

    def check_prompts(self, prompts: list[str]) -> list[int]:
        """Token count of each prompt, after the guard and the prompt-length limit."""
        for i, p in enumerate(prompts if self.guard is not None else []):
            verdict = self.guard.check(p)
            if not verdict.allowed:
                why = f"prompt {i} was rejected by the prompt guard ({verdict.rule}): {verdict.reason}"
                raise self.reject("prompt_rejected", why, param="prompt")
        counts = [self.engine.count_tokens(p) for p in prompts]
        for i, n in enumerate(counts):
            if n > self.max_prompt_tokens:
                why = (
                    f"prompt {i} has {n} tokens; this server accepts at most {self.max_prompt_tokens} prompt "
                    "tokens. Shorten the prompt or split the document (flankit.inference.long_input)."
                )
                raise self.reject("context_length_exceeded", why, param="prompt")
        return counts

    def check_max_tokens(self, max_tokens: int | None) -> int:
        value = self.settings.default_max_tokens if max_tokens is None else max_tokens
        limit = self.settings.max_tokens_limit
        if not 1 <= value <= limit:
            why = (
                f"max_tokens is {value}; it must be between 1 and {limit} on this server (max_tokens_limit)."
            )
            raise self.reject("max_tokens_out_of_range", why, param="max_tokens")
        return value

    # ---- queue ---------------------------------------------------------------------------
    def submit(self, key, payload, cost: int, rows: int) -> Job:
        self.batcher.start()
        try:
            return self.batcher.submit(key, payload, cost, rows)
        except QueueFullError as exc:
            raise self.reject("queue_full", str(exc), status=429) from None
        except ShuttingDownError as exc:
            raise ApiError(503, f"{exc}; retry on another replica", code="shutting_down") from None

    async def result(self, job: Job) -> Any:
        """Wait for a job; engine failures become 400 (bad input) or 500 for this request only."""
        timeout = self.settings.request_timeout_s
        try:
            return await self.batcher.result(job, timeout)
        except asyncio.TimeoutError:
            why = f"the request did not finish within {timeout:g}s (request_timeout_s); retry, or ask for fewer tokens"
            raise self.reject("timeout", why, status=504) from None
        except FlankitError as exc:
            raise ApiError(400, str(exc)) from None
        except Exception as exc:
            raise ApiError(
                500, f"the engine failed on this request ({type(exc).__name__}: {exc})", code="engine_error"
            ) from None

    async def result_or_disconnect(self, request, job: Job) -> Any:
        """`result`, but give up (499) and free the job when the client goes away first."""
        task = asyncio.ensure_future(self.result(job))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
                if done:
                    return task.result()
                if await request.is_disconnected():
                    raise ApiError(499, "the client closed the connection", code="client_closed")
        finally:
            if not task.done():
                task.cancel()  # Batcher.result cancels the job


async def read_json(request, limit: int) -> Any:
    """The request body as JSON: 413 over `limit` bytes, 400 when empty or malformed."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413, f"the request body is {declared} bytes; the limit is {limit} bytes (max_body_bytes)"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body exceeds the limit of {limit} bytes (max_body_bytes)")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(400, "the request body is empty; send a JSON object")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8 text; send JSON") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"malformed JSON in the request body: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
