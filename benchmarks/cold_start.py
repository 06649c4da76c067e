"""Cold start: a whole Python process importing each Lambda handler, configured as deployed
(the template's environment, Lambda's own variables, tracing on), against a process that
runs a bare `import boto3`. Median of repeated runs, interleaved so both see the same noise.

    .venv/bin/python -m benchmarks.cold_start [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vista import template as cfn
from vista.local.lambda_runtime import ACCOUNT, REGION

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "import boto3"


def lambda_environment(function: str) -> dict[str, str]:
    template = cfn.load()
    resolver = cfn.placeholder_resolver(template, stack="vista", region=REGION, account=ACCOUNT)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    environment.update(cfn.function_environment(template, resolver, function))
    environment.update(
        # What Lambda itself sets: with these the X-Ray SDK and Powertools behave as deployed.
        LAMBDA_TASK_ROOT=str(ROOT / "functions"),
        AWS_LAMBDA_FUNCTION_NAME=function,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        _X_AMZN_TRACE_ID="Root=1-6748a5e0-0b1c2d3e4f5a6b7c8d9e0f1a;Parent=53995c3f42cd8ad8;Sampled=1",
        AWS_ACCESS_KEY_ID="benchmark",
        AWS_SECRET_ACCESS_KEY="benchmark",  # noqa: S106 (a fake credential)
        PYTHONPATH=str(ROOT / "functions"),
    )
    return environment


def once(code: str, environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=environment, check=True, cwd="/")
    return time.perf_counter() - started


def measure(runs: int) -> list[dict[str, Any]]:
    template = cfn.load()
    functions = cfn.resources(template, "AWS::Serverless::Function")
    cases = {name: "import " + spec["Properties"]["Handler"].rsplit(".", 1)[0] for name, spec in functions.items()}
    environments = {name: lambda_environment(name) for name in cases}
    baseline_environment = environments[next(iter(cases))]
    for name, code in cases.items():  # warm the file cache and fail early on a broken import
        once(code, environments[name])
    times: dict[str, list[float]] = {name: [] for name in [BASELINE, *cases]}
    for _ in range(runs):
        times[BASELINE].append(once(BASELINE, baseline_environment))
        for name, code in cases.items():
            times[name].append(once(code, environments[name]))
    baseline = statistics.median(times[BASELINE])
    rows = [{"case": "bare `import boto3` (baseline)", "median_ms": baseline * 1000, "ratio": 1.0}]
    for name in cases:
        median = statistics.median(times[name])
        rows.append({"case": f"{name} ({cases[name]})", "median_ms": median * 1000, "ratio": median / baseline})
    return rows


def table(rows: list[dict[str, Any]], runs: int) -> str:
    width = max(len(r["case"]) for r in rows)
    lines = [
        f"Cold start: whole-process import, median of {runs} runs (goal: <= 2.0x, then <= 1.3x)",
        f"{'case':<{width}}  {'median ms':>9}  {'vs boto3':>8}",
    ]
    lines += [f"{r['case']:<{width}}  {r['median_ms']:>9.0f}  {r['ratio']:>7.2f}x" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    rows = measure(args.runs)
    print(table(rows, args.runs))
    return rows


if __name__ == "__main__":
    main()
