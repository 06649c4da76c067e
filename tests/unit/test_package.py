"""The functions' package, as `sam build` makes it with functions/Makefile: every module with its
bytecode, so no cold start in Lambda compiles one (python_pip's build ships none, and /var/task is
read-only)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cold_start import build_package, lambda_environment
from vista import template as cfn
from vista.project import ROOT


def test_every_function_and_layer_is_built_by_a_recipe_of_ours() -> None:
    functions = cfn.resources(cfn.load(), "AWS::Serverless::Function")
    makefile = (ROOT / "functions" / "Makefile").read_text()
    listed = re.search(r"^FUNCTIONS := (.*?)(?<!\\)$", makefile, re.MULTILINE | re.DOTALL)
    assert listed
    assert set(listed.group(1).replace("\\\n", " ").split()) == set(functions)
    layers = cfn.resources(cfn.load(), "AWS::Serverless::LayerVersion")  # Pillow, Jinja2, the training code
    for name, resource in {**functions, **layers}.items():
        assert resource.get("Metadata", {}).get("BuildMethod") == "makefile", name
        assert resource["Metadata"].get("BuildArchitecture") == "arm64", name


@pytest.mark.slow
def test_the_package_holds_unchecked_bytecode_for_every_module_a_handler_imports(tmp_path: Path) -> None:
    package = build_package(tmp_path / "task")

    sources = list(package.rglob("*.py"))
    assert len(sources) > 500  # the dependencies are in it, not only Vista
    missing = [p for p in sources if not Path(importlib.util.cache_from_source(str(p))).exists()]
    assert not missing, f"{len(missing)} modules without bytecode, e.g. {missing[:3]}"
    handler = package / "vista_app" / "handlers" / "classify.py"
    header = Path(importlib.util.cache_from_source(str(handler))).read_bytes()
    assert int.from_bytes(header[4:8], "little") == 0b01  # PEP 552: hash-based, source never checked
    code = (
        "import sys, vista_app.handlers.classify, boto3\n"
        "mods = [m for m in sys.modules.values() if getattr(m, '__file__', None)]\n"
        f"print(sum(1 for m in mods if m.__file__.startswith({str(package)!r})), "
        f"vista_app.handlers.classify.__file__.startswith({str(package)!r}))"
    )
    environment = lambda_environment("ClassifyFunction", package)
    imported = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr[-2000:]
    from_package, handler_there = imported.stdout.split()
    assert handler_there == "True" and int(from_package) > 100  # boto3, Powertools and Vista from the package


@pytest.mark.parametrize("folder", ["functions", "layers/imaging", "layers/reporting"])
def test_what_deploys_is_installed_from_a_lock_with_hashes(folder: str) -> None:
    """Every transitive version pinned and hashed (`make lock`), the lock in step with its pins,
    and the build installing from it with --require-hashes: nothing floats into a deploy."""
    lock = (ROOT / folder / "requirements.lock").read_text()
    locked = dict(re.findall(r"^([a-z0-9_.\[\]-]+)==(\S+) \\$", lock, re.MULTILINE))
    assert locked and lock.count("--hash=sha256:") >= len(locked)
    pinned = re.findall(
        r"^([A-Za-z0-9_.-]+)(?:\[[a-z,]+\])?==(\S+)$", (ROOT / folder / "requirements.txt").read_text(), re.M
    )
    for name, version in pinned:
        assert locked.get(name.lower()) == version, f"{folder}: {name}=={version} is not what the lock holds"
    makefile = (ROOT / folder.split("/")[0] / "Makefile").read_text()
    assert "--require-hashes" in makefile and "requirements.lock" in makefile
