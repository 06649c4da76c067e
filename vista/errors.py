"""The one error the `vista` command reports as a line of its own, without a traceback."""

from __future__ import annotations


class CommandError(Exception):
    """A failure to report as one line, without a traceback."""


class ApiError(CommandError):
    """The stack's API answered with an HTTP error: its status, and its message in the line."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
