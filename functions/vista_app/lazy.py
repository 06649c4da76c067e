"""Modules loaded when first used, not when a handler is imported: the standard library's
LazyLoader, as the importlib documentation's "Implementing lazy imports" recipe uses it. A handler
imports every module its routes need inside `importing()`; a cold start loads only what the request
in hand touches (GET /models never loads pydantic or the training request's schema). The imports
are ordinary statements, so the type checker reads them as it reads any other."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Finds Vista's modules as the other finders do, and hands them to a LazyLoader: only for the
    thread that opened `importing()` (local mode imports handlers in several threads at once)."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if threading.get_ident() != self.thread or not fullname.startswith("vista_app."):
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


@contextmanager
def importing() -> Iterator[None]:
    """Within it, a module not yet loaded is imported lazily: executed on its first attribute access."""
    finder = _LazyFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
