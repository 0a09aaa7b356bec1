"""CLI command `flankit serve`: the HTTP inference server (FastAPI app run by uvicorn).

    flankit serve --model out/model --port 8000 --api-key secret
    # then, with the openai client: OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="secret")

Ctrl-C / SIGTERM shuts down gracefully: new connections are refused, in-flight requests finish.
"""

from __future__ import annotations

from pathlib import Path

import typer

from flankit.cli.app import app


@app.command()
def serve(
    model: str = typer.Option(..., "--model", help="model folder (HF T5 layout with tokenizer) or hub id"),
    backend: str = typer.Option("native", help="engine backend: native, ctranslate2 or hf"),
    dtype: str = typer.Option("fp32", help="fp32, bf16 or int8"),
    host: str = typer.Option("127.0.0.1", help="interface to bind (loopback by default)"),
    port: int = typer.Option(8000, help="TCP port"),
    api_key: str | None = typer.Option(
        None, envvar="FLANKIT_API_KEY", help="require `Authorization: Bearer KEY`"
    ),
    model_name: str | None = typer.Option(None, help="model id clients send (default: the folder name)"),
    max_batch_tokens: int = typer.Option(4096, help="token budget of one batch"),
    max_queue: int = typer.Option(256, help="most requests waiting or running; more get 429"),
    batch_window_ms: float = typer.Option(10.0, help="how long a request waits for others to batch with"),
    no_batching: bool = typer.Option(False, "--no-batching", help="one request per engine call"),
    max_prompt_tokens: int = typer.Option(512, help="longest prompt accepted (tokens)"),
    max_tokens_limit: int = typer.Option(512, help="largest max_tokens accepted"),
    request_timeout: float = typer.Option(60.0, help="seconds before a request gets 504"),
    prompt_guard: bool = typer.Option(False, "--prompt-guard", help="reject injection/contradiction prompts"),
    prompts: list[Path] = typer.Option([], "--prompts", help="extra prompt-registry YAML files"),
    threads: int = typer.Option(0, help="torch CPU threads for the engine (0 = torch's default)"),
    log_level: str = typer.Option("info", help="uvicorn log level"),
) -> None:
    """Serve a model over HTTP: OpenAI-compatible /v1/completions, /v1/classify, /v1/prompts, /metrics."""
    import torch
    import uvicorn

    from flankit.inference.engine import Engine
    from flankit.inference.prompting import load_registry
    from flankit.serving.app import create_app
    from flankit.serving.settings import ServeSettings

    if threads:
        torch.set_num_threads(threads)
    settings = ServeSettings(
        model_name=model_name or Path(model.rstrip("/")).name,
        api_key=api_key,
        batching=not no_batching,
        max_batch_tokens=max_batch_tokens,
        max_queue=max_queue,
        batch_window_ms=batch_window_ms,
        max_prompt_tokens=max_prompt_tokens,
        max_tokens_limit=max_tokens_limit,
        default_max_tokens=min(16, max_tokens_limit),
        request_timeout_s=request_timeout,
        prompt_guard=prompt_guard,
    )
    engine = Engine.from_pretrained(model, backend=backend, dtype=dtype, max_input_tokens=max_prompt_tokens)
    server_app = create_app(engine, settings, prompts=load_registry(*prompts))
    if host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        typer.echo(
            f"warning: serving on {host} without --api-key; anyone who can reach it can use it", err=True
        )
    typer.echo(
        f"serving {settings.model_name!r} on http://{host}:{port}/v1 (batching {'on' if settings.batching else 'off'})"
    )
    uvicorn.run(
        server_app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
    )
