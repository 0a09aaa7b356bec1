"""Request bodies and OpenAI-style errors for the HTTP API.

Bodies are pydantic models with `extra="forbid"`, so a misspelt argument is a 400 that names
it (as OpenAI's API does) instead of being ignored. Every error leaves the server as
`{"error": {"message", "type", "param", "code"}}`, the shape the `openai` client parses into
`BadRequestError`, `AuthenticationError`, `RateLimitError` and friends.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    499: "client_closed_request",
    500: "server_error",
    503: "server_error",
    504: "timeout_error",
}

# union-typed fields: pydantic reports one error per union member, so say the shape instead
SHAPES = {
    "prompt": "a string or a list of strings (token-id prompts are not supported; send text)",
    "options": "a list of strings, or one list of strings per prompt",
    "stop": "a string or a list of up to 4 strings",
}


class ApiError(Exception):
    """An error answered as OpenAI-style JSON with HTTP status `status`."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": ERROR_TYPES.get(self.status, "server_error"),
                "param": self.param,
                "code": self.code,
            }
        }


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompletionRequest(_Body):
    """OpenAI `/v1/completions` fields, plus T5 decoding extensions (top_k, repetition_penalty, ...)."""

    model: str | None = None
    prompt: str | list[str]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int = 1
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    user: str | None = None
    # accepted for compatibility; only their neutral values are supported (checked in `unsupported`)
    echo: bool = False
    logprobs: int | None = None
    best_of: int | None = None
    suffix: str | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[str, float] | None = None
    # extensions (send with the openai client's `extra_body`)
    top_k: int | None = None
    repetition_penalty: float | None = None
    no_repeat_ngram_size: int | None = None
    num_beams: int | None = None
    min_tokens: int | None = None

    def unsupported(self) -> str | None:
        """Name and reason of the first OpenAI option this server cannot honour, if any."""
        checks = [
            (
                self.echo,
                "echo",
                "echo is not supported (T5 is an encoder-decoder: the prompt is not part of the output)",
            ),
            (
                self.logprobs is not None,
                "logprobs",
                "logprobs are not supported; use /v1/classify for option scores",
            ),
            (self.best_of not in (None, self.n), "best_of", "best_of is not supported; use n"),
            (self.suffix is not None, "suffix", "suffix (insertion) is not supported"),
            (
                bool(self.presence_penalty) or bool(self.frequency_penalty),
                "frequency_penalty",
                "presence/frequency penalties are not supported; send repetition_penalty (e.g. 1.2) instead",
            ),
            (bool(self.logit_bias), "logit_bias", "logit_bias is not supported"),
        ]
        return next(((param, why) for bad, param, why in checks if bad), None)


class ClassifyRequest(_Body):
    """Pick one option per prompt: `rank` scores every option; `constrained` decodes over a trie."""

    model: str | None = None
    prompt: str | list[str]
    options: list[str] | list[list[str]]
    mode: Literal["rank", "constrained"] = "rank"
    normalize: Literal["mean", "sum"] = "mean"


class RenderRequest(_Body):
    """Variables for a registry prompt; `version` defaults to the latest."""

    variables: dict[str, Any] = {}
    version: int | None = None


def parse_body(model: type[_Body], data: Any) -> Any:
    """Validate decoded JSON into `model`, turning pydantic's report into one clear 400."""
    if not isinstance(data, dict):
        raise ApiError(400, f"the request body must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        top = str(err["loc"][0]) if err["loc"] else None
        if err["type"] == "extra_forbidden":
            raise ApiError(400, f"Unrecognized request argument supplied: {where}", param=top) from None
        if err["type"] == "missing":
            raise ApiError(400, f"you must provide a {where!r} parameter", param=top) from None
        if top in SHAPES:
            raise ApiError(400, f"{top!r} must be {SHAPES[top]}", param=top) from None
        raise ApiError(
            400, f"invalid value for {where!r}: {err['msg']} (got {err.get('input')!r})"[:500], param=top
        ) from None
