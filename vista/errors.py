"""The one error the `vista` command reports as a line of its own, without a traceback."""

from __future__ import annotations


class CommandError(Exception):
    """A failure to report as one line, without a traceback."""
