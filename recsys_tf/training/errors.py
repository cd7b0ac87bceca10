"""Errors a user must fix (not bugs): the entry points print them in one line."""

from __future__ import annotations


class RunError(Exception):
    """A run cannot go on for a reason the user must fix (not a bug): the entry
    point prints it in one line and exits 2, without a traceback."""


class ConfigError(RunError, ValueError):
    """A config value or key is not understood."""
