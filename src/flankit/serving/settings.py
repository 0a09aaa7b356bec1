"""Server settings: limits, batching knobs and auth for `flankit serve` and `create_app`.

One dataclass (fields carry `help`, like every flankit config) so the CLI, tests and the
benchmark all describe a server the same way; `flankit.config.from_dict` builds it from YAML.
"""

from __future__ import annotations

from dataclasses import dataclass

from flankit.config import field
from flankit.errors import ConfigError


@dataclass
class ServeSettings:
    model_name: str = field("flankit-t5", help="model id reported by /v1/models and expected in requests")
    api_key: str | None = field(None, help="if set, /v1/* requests need `Authorization: Bearer KEY`")
    batching: bool = field(True, help="dynamic batching; False runs one request per engine call")
    max_batch_tokens: int = field(4096, help="token budget of one batch: sum of prompt + max_tokens per row")
    max_batch_size: int = field(64, help="most rows (prompts x n) in one engine call")
    batch_window_ms: float = field(10.0, help="how long the first waiting request waits for others to join")
    max_queue: int = field(256, help="most requests admitted (waiting or running); more get 429")
    request_timeout_s: float = field(60.0, help="a request not answered within this gets 504")
    max_prompt_tokens: int = field(512, help="longest prompt accepted, in tokens (400 beyond)")
    max_tokens_limit: int = field(512, help="largest max_tokens accepted (400 beyond)")
    default_max_tokens: int = field(16, help="max_tokens when a request leaves it out (OpenAI's default)")
    max_n: int = field(8, help="largest n (completions per prompt)")
    max_prompts: int = field(64, help="most prompts in one request")
    max_body_bytes: int = field(1_000_000, help="largest request body; bigger gets 413")
    prompt_guard: bool = field(False, help="reject prompts flagged by the prompt guard (400 with the reason)")
    shutdown_timeout_s: float = field(30.0, help="graceful shutdown waits this long for in-flight requests")

    def __post_init__(self):
        positive = (
            "max_batch_tokens",
            "max_batch_size",
            "max_queue",
            "max_prompt_tokens",
            "max_tokens_limit",
            "default_max_tokens",
            "max_n",
            "max_prompts",
            "max_body_bytes",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"serve setting {name} must be >= 1, got {getattr(self, name)}")
        if self.request_timeout_s <= 0 or self.batch_window_ms < 0:
            raise ConfigError("serve settings: request_timeout_s must be > 0 and batch_window_ms >= 0")
        if self.default_max_tokens > self.max_tokens_limit:
            raise ConfigError(
                f"default_max_tokens ({self.default_max_tokens}) exceeds max_tokens_limit ({self.max_tokens_limit})"
            )
