"""Fixtures for serving tests: a tiny real engine, a fault-injecting wrapper, a loopback server."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import pytest
import torch
import uvicorn

from flankit.serving.app import create_app
from flankit.serving.settings import ServeSettings

MODEL = "tiny-test"


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    from flankit.inference.engine import Engine
    from t5_testing import tiny_model_dir

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("serve_model")
    tiny_model_dir(folder)
    return Engine.from_pretrained(folder)


class FaultyEngine:
    """The real engine, except: prompts with BOOM raise, prompts with SLOW wait for `release`.

    Records the prompts of every generate call so tests can see batching and retries.
    """

    def __init__(self, engine):
        self.inner = engine
        self.tokenizer = engine.tokenizer
        self.max_input_tokens = engine.max_input_tokens
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls: list[list[str]] = []

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def generate(self, prompts, config=None, **kw):
        self.calls.append(list(prompts))
        if any("SLOW" in p for p in prompts):
            self.entered.set()
            assert self.release.wait(20), "test never released the slow request"
        if any("BOOM" in p for p in prompts):
            raise RuntimeError("injected engine failure")
        return self.inner.generate(prompts, config, **kw)

    def classify(self, prompts, options, normalize="mean"):
        return self.inner.classify(prompts, options, normalize)


@pytest.fixture
def faulty(engine):
    eng = FaultyEngine(engine)
    yield eng
    eng.release.set()  # never leave a worker thread blocked


@contextmanager
def running(app):
    """Run `app` with uvicorn on a free loopback port in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", timeout_graceful_shutdown=10))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
def serve():
    """serve(engine, **settings) -> (base_url, app, server); every server is stopped at teardown."""
    stack = []

    def start(eng, guard=None, **settings):
        app = create_app(eng, ServeSettings(model_name=MODEL, **settings), guard=guard)
        ctx = running(app)
        url, server = ctx.__enter__()
        stack.append(ctx)
        return url, app, server

    yield start
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="module")
def shared_url(engine):
    """One default server for the read-only tests of a module."""
    with running(create_app(engine, ServeSettings(model_name=MODEL))) as (url, _server):
        yield url
