"""FastAPI app: OpenAI-compatible completions, classification, prompt registry, health, metrics.

    from flankit.inference.engine import Engine
    from flankit.serving.app import create_app
    from flankit.serving.settings import ServeSettings
    app = create_app(Engine.from_pretrained("out/model"), ServeSettings(api_key="secret"))
    # uvicorn.run(app) -- or `flankit serve --model out/model`

Endpoints: POST /v1/completions (OpenAI completions API incl. SSE streaming, so the `openai`
client works with `base_url=http://host:port/v1`), POST /v1/classify, GET /v1/prompts,
POST /v1/prompts/{name}/render, GET /v1/models[/{id}], GET /health, GET /metrics.
With an API key set, /v1/* need `Authorization: Bearer KEY`; /health and /metrics stay open
for probes and scrapers.

Two deliberate differences from OpenAI: `temperature` defaults to 0 (greedy decoding, what
FLAN-T5 is evaluated with) and streaming sends each completion as one chunk, since the engine
decodes whole batches (see `flankit.serving.batcher`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from flankit.errors import ConfigError, UnknownNameError
from flankit.inference.engine import GenerationConfig
from flankit.serving.jobs import ClassifyWork, GenerateWork, classify_key, generation_key
from flankit.serving.metrics import MetricsMiddleware, ServerMetrics
from flankit.serving.schemas import ApiError, ClassifyRequest, CompletionRequest, RenderRequest, parse_body
from flankit.serving.service import Service, read_json
from flankit.serving.settings import ServeSettings


def create_app(engine, settings: ServeSettings | None = None, *, prompts=None, guard=None) -> FastAPI:
    """Build the HTTP app around an engine (anything with the `Engine` API).

    Args:
        engine: `flankit.inference.engine.Engine` (generate, classify, count_tokens, tokenizer).
        settings: limits, batching and auth; defaults to `ServeSettings()`.
        prompts: a `PromptRegistry` for /v1/prompts; None uses the packaged default registry.
        guard: a `PromptGuard`; None builds the default guard when `settings.prompt_guard` is set.
    """
    settings = settings or ServeSettings()
    if prompts is None:
        from flankit.inference.prompting import default_registry

        prompts = default_registry()
    if guard is None and settings.prompt_guard:
        from flankit.inference.guard import PromptGuard

        guard = PromptGuard()
    metrics = ServerMetrics()
    svc = Service(engine, settings, metrics, prompts, guard)

    @asynccontextmanager
    async def lifespan(_app):
        svc.batcher.start()
        yield
        # uvicorn has already let in-flight requests finish; drain what is still queued
        await asyncio.to_thread(svc.batcher.close, settings.shutdown_timeout_s)

    app = FastAPI(title="flankit", summary="T5 inference server", lifespan=lifespan)
    app.state.service = svc
    _install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/health")
    async def health():
        b = svc.batcher
        return {
            "status": "ok",
            "model": settings.model_name,
            "queue_depth": b.depth,
            "admitted": b.admitted,
            "max_queue": b.max_queue,
            "batching": b.batching,
        }

    @app.get("/metrics")
    async def prometheus():
        return Response(metrics.render(), media_type=metrics.content_type)

    app.include_router(_v1_router(svc), dependencies=[Depends(_auth(settings.api_key))])
    return app


def _auth(api_key: str | None):
    async def check(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise ApiError(
                401,
                "missing or wrong API key: send the header `Authorization: Bearer <key>`",
                code="invalid_api_key",
            )

    return check


def _v1_router(svc: Service) -> APIRouter:
    router = APIRouter()
    settings = svc.settings

    @router.get("/v1/models")
    async def models():
        return {"object": "list", "data": [_model_card(svc)]}

    @router.get("/v1/models/{model_id:path}")
    async def model(model_id: str):
        svc.check_model(model_id)
        return _model_card(svc)

    @router.post("/v1/completions")
    async def completions(request: Request):
        body = parse_body(CompletionRequest, await read_json(request, settings.max_body_bytes))
        svc.check_model(body.model)
        bad = body.unsupported()
        if bad:
            raise ApiError(400, bad[1], param=bad[0])
        prompts = svc.prompt_list(body.prompt)
        if not 1 <= body.n <= settings.max_n:
            raise ApiError(400, f"n must be between 1 and {settings.max_n} (max_n)", param="n")
        cfg = _generation_config(body, svc.check_max_tokens(body.max_tokens))
        counts = svc.check_prompts(prompts)
        work = GenerateWork([p for p in prompts for _ in range(body.n)])
        cost = sum(counts) * body.n + cfg.max_new_tokens * len(work.prompts)
        job = svc.submit(generation_key(cfg), work, cost, rows=len(work.prompts))
        meta = {
            "id": f"cmpl-{uuid.uuid4().hex[:24]}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": settings.model_name,
        }
        if body.stream:
            include_usage = bool((body.stream_options or {}).get("include_usage"))
            return StreamingResponse(
                _stream(svc, job, meta, sum(counts), include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        gens = await svc.result_or_disconnect(request, job)
        choices = [_choice(i, g) for i, g in enumerate(gens)]
        return {**meta, "choices": choices, "usage": _usage(svc, sum(counts), gens)}

    @router.post("/v1/classify")
    async def classify(request: Request):
        body = parse_body(ClassifyRequest, await read_json(request, settings.max_body_bytes))
        svc.check_model(body.model)
        prompts = svc.prompt_list(body.prompt)
        options = _option_lists(body.options, len(prompts))
        counts = svc.check_prompts(prompts)
        option_tokens = {o: svc.engine.count_tokens(o) for opts in options for o in opts}
        cost = sum(n + sum(option_tokens[o] for o in opts) for n, opts in zip(counts, options, strict=True))
        job = svc.submit(
            classify_key(body.mode, body.normalize), ClassifyWork(prompts, options), cost, rows=len(prompts)
        )
        rows = await svc.result_or_disconnect(request, job)
        svc.metrics.prompt_tokens.inc(sum(counts))
        return {
            "object": "classification",
            "model": settings.model_name,
            "mode": body.mode,
            "results": [{"index": i, **row} for i, row in enumerate(rows)],
            "usage": {"prompt_tokens": sum(counts), "completion_tokens": 0, "total_tokens": sum(counts)},
        }

    @router.get("/v1/prompts")
    async def list_prompts():
        return {
            "object": "list",
            "data": [
                {
                    "name": t.name,
                    "version": t.version,
                    "description": t.description,
                    "fields": t.fields,
                    "defaults": t.defaults,
                    "template": t.template,
                }
                for t in svc.prompts.list()
            ],
        }

    @router.post("/v1/prompts/{name}/render")
    async def render_prompt(name: str, request: Request):
        body = parse_body(RenderRequest, await read_json(request, settings.max_body_bytes))
        try:
            template = svc.prompts.get(name, body.version)
            text = template.render(**body.variables)
        except UnknownNameError as exc:
            raise ApiError(404, str(exc), param="name", code="prompt_not_found") from None
        except ConfigError as exc:
            raise ApiError(400, str(exc), param="variables") from None
        return {
            "object": "prompt.render",
            "name": template.name,
            "version": template.version,
            "prompt": text,
            "tokens": svc.engine.count_tokens(text),
        }

    return router


def _model_card(svc: Service) -> dict:
    return {"id": svc.settings.model_name, "object": "model", "created": svc.created, "owned_by": "flankit"}


def _generation_config(body: CompletionRequest, max_tokens: int) -> GenerationConfig:
    """OpenAI sampling fields -> engine config; temperature 0 or absent means greedy."""
    sample = bool(body.temperature)
    if body.n > 1 and not sample:
        raise ApiError(
            400, "n > 1 needs temperature > 0 (greedy decoding would return n identical texts)", param="n"
        )
    stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stops) > 4 or any(not s for s in stops):
        raise ApiError(400, "stop takes up to 4 non-empty strings", param="stop")
    fields = {
        "max_new_tokens": max_tokens,
        "do_sample": sample,
        "stop": stops,
        "seed": body.seed if sample else None,
        "top_p": body.top_p if body.top_p is not None else 1.0,
    }
    if sample:
        fields["temperature"] = body.temperature
    extras = {
        "top_k": body.top_k,
        "repetition_penalty": body.repetition_penalty,
        "no_repeat_ngram_size": body.no_repeat_ngram_size,
        "num_beams": body.num_beams,
        "min_new_tokens": body.min_tokens,
    }
    fields.update({k: v for k, v in extras.items() if v is not None})
    try:
        return GenerationConfig().replace(**fields)
    except ConfigError as exc:
        raise ApiError(400, str(exc)) from None


def _option_lists(options: list, n_prompts: int) -> list[list[str]]:
    per_prompt = all(isinstance(o, list) for o in options) and bool(options)
    if per_prompt and len(options) != n_prompts:
        raise ApiError(
            400,
            f"got {len(options)} option lists for {n_prompts} prompts; send one list per prompt "
            "or one shared list",
            param="options",
        )
    lists = options if per_prompt else [options] * n_prompts
    for opts in lists:
        if len(opts) < 2 or any(not o.strip() for o in opts) or len(set(opts)) != len(opts):
            raise ApiError(
                400, f"options {opts!r} must be at least two distinct non-empty strings", param="options"
            )
    return [list(o) for o in lists]


def _choice(index: int, gen) -> dict:
    return {"text": gen.text, "index": index, "logprobs": None, "finish_reason": gen.finish_reason}


def _usage(svc: Service, prompt_tokens: int, gens) -> dict:
    completion = sum(len(g.token_ids) for g in gens)
    svc.metrics.prompt_tokens.inc(prompt_tokens)
    svc.metrics.completion_tokens.inc(completion)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }


def _sse(data: dict | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


async def _stream(svc: Service, job, meta: dict, prompt_tokens: int, include_usage: bool):
    """SSE events of one completion. A client that disconnects cancels this generator (Starlette),
    which cancels the job in `Batcher.result` and frees its queue slot."""
    try:
        gens = await svc.result(job)
    except ApiError as exc:  # headers are out: report in-band, as OpenAI does
        yield _sse(exc.body())
        return
    for i, gen in enumerate(gens):
        yield _sse({**meta, "choices": [_choice(i, gen)]})
    usage = _usage(svc, prompt_tokens, gens)
    if include_usage:
        yield _sse({**meta, "choices": [], "usage": usage})
    yield _sse("[DONE]")


def _install_error_handlers(app: FastAPI) -> None:
    def reply(err: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return JSONResponse(err.body(), status_code=err.status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(_request, exc: ApiError):
        return reply(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return reply(ApiError(exc.status_code, message))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request, exc: RequestValidationError):
        err = exc.errors()[0]
        return reply(ApiError(400, f"invalid {'.'.join(map(str, err['loc']))}: {err['msg']}"))

    @app.exception_handler(Exception)
    async def crash(_request, exc: Exception):
        return reply(ApiError(500, f"internal error ({type(exc).__name__}: {exc})"))
