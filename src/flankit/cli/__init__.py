"""Command-line entry point: `flankit ...`.

Each module imported below registers its subcommands on the shared typer `app`.
`main()` turns `FlankitError` into a one-line message and a non-zero exit, no traceback.
"""

from __future__ import annotations

import sys

from flankit.cli import data, demo, evaluate, infer, model, prompts, serve, train  # noqa: F401  (registers commands)
from flankit.cli.app import app
from flankit.errors import FlankitError


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except FlankitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # typer/click exits (e.g. --help) pass through
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:
        # Usage errors (unknown option, bad value). Matched by interface: typer >= 0.2x vendors
        # click under a private module, older typer raises the click package's classes.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        if type(exc).__name__ == "Abort":
            return 1
        raise
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
