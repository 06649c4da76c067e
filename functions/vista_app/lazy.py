"""Modules loaded when first used, not when a handler is imported: the standard library's
LazyLoader, as the importlib documentation's "Implementing lazy imports" recipe uses it. A handler
names every module its routes need; a cold start loads only what the request in hand touches (GET
/models never loads pydantic or the training request's schema)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy(name: str) -> ModuleType:
    """The module `name`, loaded on its first attribute access (at once if it already is)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
