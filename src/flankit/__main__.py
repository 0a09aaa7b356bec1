"""`python -m flankit`."""

from flankit.cli import run

run()
