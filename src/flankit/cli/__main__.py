"""`python -m flankit.cli`."""

from flankit.cli import run

run()
