"""What a handler's import loads, as Lambda's init runs it: nothing its every invocation does not use.

The time is `make bench`'s (benchmarks.cold_start); these pin the modules whose absence the
figures rest on, each measured there with `python -X importtime`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.cold_start import lambda_environment
from vista import template as cfn

# asyncio: wrapt 2 (the X-Ray SDK's dependency) and Powertools' batch utility import it at import.
# data_classes: Powertools' package of every event data class, imported by its batch utility and
# its EventBridgeEvent. The rest are loaded by the requests that use them.
NOT_LOADED = {
    "ClassifyFunction": ("asyncio", "aws_lambda_powertools.utilities.data_classes", "pydantic", "PIL"),
    "OnTrainingEventFunction": ("asyncio", "aws_lambda_powertools.utilities.data_classes", "pydantic", "jinja2"),
    "ApiFunction": ("pydantic", "PIL", "http.cookies"),
}
MODULES = {
    name: spec["Properties"]["Handler"].rsplit(".", 1)[0]
    for name, spec in cfn.resources(cfn.load(), "AWS::Serverless::Function").items()
}


@pytest.mark.parametrize("function", sorted(NOT_LOADED))
def test_a_handler_import_loads_only_what_every_invocation_uses(function: str) -> None:
    code = (
        f"import sys, json, {MODULES[function]}\n"
        # A module vista_app.lazy named but nothing used is not loaded: it is still importlib's
        # _LazyModule (its type, read without touching an attribute, which would load it).
        "loaded = [m for m, v in sys.modules.items() if type(v).__name__ != '_LazyModule']\n"
        "print(json.dumps(sorted(loaded)))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", code], env=lambda_environment(function), capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    loaded = set(json.loads(imported.stdout))
    assert MODULES[function] in loaded  # the check can see a module that is there
    unwanted = {m for m in loaded for name in NOT_LOADED[function] if m == name or m.startswith(name + ".")}
    assert not unwanted, f"{function}'s import loads {sorted(unwanted)}"
