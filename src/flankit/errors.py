"""User-facing errors.

Every error a user can cause (bad config, unknown name, malformed file, model missing
offline) is a `FlankitError` whose message says what to do. The CLI prints the message and
exits non-zero without a traceback; library callers can catch the base class.
"""

from __future__ import annotations


class FlankitError(Exception):
    """Base class of all errors flankit raises for bad input or environment."""

    exit_code = 2


class ConfigError(FlankitError):
    """A configuration value or file is invalid."""


class UnknownNameError(FlankitError):
    """A task, template, mixture, metric or backend name is not registered."""


class DataError(FlankitError):
    """An input file or data source is malformed or empty."""


class ModelError(FlankitError):
    """A model folder or checkpoint cannot be loaded, or a model option is unsupported."""


class OfflineError(FlankitError):
    """Something needs the network (a hub model or data set) and there is none."""


class InputTooLongError(FlankitError):
    """An input exceeds a token budget and the caller did not ask for truncation."""
