"""CLI commands: evaluate (registered on the shared app)."""

from __future__ import annotations

from flankit.cli.app import app  # noqa: F401
