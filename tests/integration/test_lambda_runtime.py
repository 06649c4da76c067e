"""The local Lambda runtime's imports: functions run in threads here, one at a time on Lambda."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from vista.project import ROOT

HANDLERS = ["vista_app.handlers.api.lambda_handler", "vista_app.handlers.on_training_event.lambda_handler"]


def test_a_handler_is_imported_with_no_module_left_to_load_lazily_by_whichever_thread_comes_first() -> None:
    """A module a handler imports lazily is loaded on first use; two invocations using it at once in
    local mode's threads met it half-loaded on CPython before 3.12.3 (python/cpython#114763), so the
    runtime loads them as it imports the handler. In a fresh interpreter, as a cold function starts."""
    code = (
        "import json, sys\n"
        "from vista.local.lambda_runtime import handler_of\n"
        f"for handler in {HANDLERS!r}:\n"
        "    assert callable(handler_of(handler))\n"
        "print(json.dumps(sorted(n for n, m in sys.modules.items() if type(m).__name__ == '_LazyModule')))\n"
    )
    path = os.pathsep.join([str(ROOT / "functions"), str(ROOT / "training_job"), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []
