"""Cold start: a whole Python process importing each Lambda handler and boto3 (which its first
AWS call loads where its import did not), configured as deployed (the template's environment,
Lambda's own variables, tracing on), against a process that runs a bare `import boto3`; beside
them, the libraries the handlers stand on, alone. Median of repeated runs, interleaved so all
see the same noise.

Every case imports from the functions' package as `sam build` makes it (functions/Makefile: the
pinned dependencies, Vista, and their bytecode), built for this machine's platform, and nothing
is written where it runs (/var/task is read-only in Lambda). `--source` leaves the bytecode out,
as `sam build`'s own python_pip builder would: what each cold start would then compile.

    .venv/bin/python -m benchmarks.cold_start [--runs 9] [--source]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vista import template as cfn
from vista.local.lambda_runtime import ACCOUNT, REGION

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "import boto3"


def lambda_environment(function: str, task_root: Path = ROOT / "functions") -> dict[str, str]:
    template = cfn.load()
    resolver = cfn.placeholder_resolver(template, stack="vista", region=REGION, account=ACCOUNT)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    environment.update(cfn.function_environment(template, resolver, function))
    environment.update(
        # What Lambda itself sets: with these the X-Ray SDK and Powertools behave as deployed.
        LAMBDA_TASK_ROOT=str(task_root),
        AWS_LAMBDA_FUNCTION_NAME=function,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        _X_AMZN_TRACE_ID="Root=1-6748a5e0-0b1c2d3e4f5a6b7c8d9e0f1a;Parent=53995c3f42cd8ad8;Sampled=1",
        AWS_ACCESS_KEY_ID="benchmark",
        AWS_SECRET_ACCESS_KEY="benchmark",  # noqa: S106 (a fake credential)
        PYTHONPATH=str(task_root),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return environment


def once(code: str, environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=environment, check=True, cwd="/")
    return time.perf_counter() - started


# What a handler's cold start stands on, each measured like a handler: the libraries alone, so a
# handler over the goal shows how much of it is Vista's own. boto3 is in every case: a handler that
# does not import it at init loads it with its first AWS call, which every cold start makes.
POWERTOOLS = (
    "import boto3\nfrom aws_lambda_powertools import Logger, Metrics, Tracer\nTracer(patch_modules=('botocore',))"
)
CORE, RESOLVER, PYDANTIC = (
    "boto3 + Powertools (Logger, Metrics, Tracer on botocore)",
    "boto3 + Powertools + its REST resolver",
    "boto3 + Powertools + pydantic",
)
FLOORS = {
    CORE: POWERTOOLS,
    # The resolver's package imports asyncio (for its AppSync resolvers) and every event data class.
    RESOLVER: POWERTOOLS + "\nimport aws_lambda_powertools.event_handler",
    PYDANTIC: POWERTOOLS + "\nimport pydantic",
}
FLOOR_OF = {"ApiFunction": RESOLVER, "StartTrainingFunction": PYDANTIC}  # the others: CORE
# The handlers that answer a person or an image as it arrives; the goal is theirs.
REQUEST_PATH = ("ApiFunction", "ClassifyFunction", "ConsoleAuthorizerFunction")


def build_package(task_root: Path, *, bytecode: bool = True) -> Path:
    """The functions' package (they share one: CodeUri functions/), built by the recipe `sam build`
    runs, with this machine's wheels for the binary dependencies; without bytecode if asked."""
    variables = [f"ARTIFACTS_DIR={task_root}", "WHEELS=", f"PYTHON={sys.executable}"]
    make = shutil.which("make")
    if make is None:
        raise SystemExit("make is needed to build the functions' package (functions/Makefile)")
    subprocess.run([make, "-s", "-C", str(ROOT / "functions"), "build-ApiFunction", *variables], check=True)
    if not bytecode:
        for cache in list(task_root.rglob("__pycache__")):
            shutil.rmtree(cache)
    return task_root


def measure(runs: int, *, bytecode: bool = True) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as scratch:
        return _measure(runs, build_package(Path(scratch) / "task", bytecode=bytecode))


def _measure(runs: int, task_root: Path) -> list[dict[str, Any]]:
    template = cfn.load()
    functions = cfn.resources(template, "AWS::Serverless::Function")
    modules = {name: spec["Properties"]["Handler"].rsplit(".", 1)[0] for name, spec in functions.items()}
    baseline_environment = lambda_environment(next(iter(modules)), task_root)
    cases: dict[str, tuple[str, dict[str, str]]] = {"baseline": (BASELINE, baseline_environment)}
    cases |= {label: (code, baseline_environment) for label, code in FLOORS.items()}
    cases |= {
        name: (f"import {module}\nimport boto3", lambda_environment(name, task_root))
        for name, module in modules.items()
    }
    for code, environment in cases.values():  # warm the file cache and fail early on a broken import
        once(code, environment)
    times: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(runs):
        for label, (code, environment) in cases.items():
            times[label].append(once(code, environment))
    medians = {label: statistics.median(t) for label, t in times.items()}
    baseline = medians["baseline"]
    rows = [{"kind": "baseline", "case": "bare `import boto3` (baseline)", "median_ms": baseline * 1000, "ratio": 1.0}]
    rows += [
        {"kind": "floor", "case": label, "median_ms": medians[label] * 1000, "ratio": medians[label] / baseline}
        for label in FLOORS
    ]
    for name, module in modules.items():
        floor = FLOOR_OF.get(name, CORE)
        rows.append(
            {
                "kind": "handler",
                "case": f"{name} ({module})",
                "function": name,
                "median_ms": medians[name] * 1000,
                "ratio": medians[name] / baseline,
                "request_path": name in REQUEST_PATH,
                "floor": floor,
                "floor_ratio": medians[floor] / baseline,
            }
        )
    return rows


def table(rows: list[dict[str, Any]], runs: int) -> str:
    width = max(len(r["case"]) for r in rows)
    lines = [
        f"Cold start: whole-process import, median of {runs} runs (goal: <= 1.3x on the request path)",
        f"{'case':<{width}}  {'median ms':>9}  {'vs boto3':>8}",
    ]
    lines += [f"{r['case']:<{width}}  {r['median_ms']:>9.0f}  {r['ratio']:>7.2f}x" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--source", action="store_true", help="the package without bytecode (python_pip's build)")
    args = parser.parse_args(argv)
    rows = measure(args.runs, bytecode=not args.source)
    print(table(rows, args.runs))
    return rows


if __name__ == "__main__":
    main()
