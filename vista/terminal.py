"""What the `vista` command and the demo print, with rich: tables, progress bars and a job's progress.

Tables and answers go to stdout, progress and notes to stderr, so `--json` output and pipes stay clean.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bar
from rich.table import Table
from rich.text import Text

from vista import client
from vista.target import Target

# A column: the field of a row, its title and its unit ("%", "$", "s", "ms" or "" for none).
Column = tuple[str, str, str]
# The units of the fields the command shows outside the leaderboard (whose columns come from GET /models).
UNITS = {
    "confidence": "%",
    "accuracy": "%",
    "latency_ms": "ms",
    "billable_seconds": "s",
    "training_cost": "$",
    "serving_cost": "$",
    "cost_per_1000_predictions": "$",
    "on_demand_cost": "$",
    "cost": "$",
    "savings": "$",
    "total": "$",
}
# Wide enough that a leaderboard piped to a file or another program keeps a row a line.
PIPE_WIDTH = 240


def stdout() -> Console:
    """A console on the current sys.stdout (a test runner's too)."""
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else PIPE_WIDTH, highlight=False)


def stderr() -> Console:
    return Console(file=sys.stderr, width=None if sys.stderr.isatty() else PIPE_WIDTH, highlight=False)


def columns(*keys: str) -> list[Column]:
    """The columns of these fields, each titled by its name (less its unit, which each cell shows)."""
    shown = []
    for key in keys:
        unit = UNITS.get(key, "")
        title = key.removesuffix(f"_{unit}") if unit in ("ms", "s") else key
        shown.append((key, title.replace("_", " "), unit))
    return shown


def show(rows: list[dict[str, Any]], shown: list[Column], as_json: bool, raw: Any = None) -> None:
    """A table of `rows` (or, `as_json`, `raw` or the rows as JSON)."""
    if as_json:
        print(json.dumps(raw if raw is not None else rows, indent=2, default=str))
        return
    if not rows:
        stdout().print("(none)")
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for key, title, unit in shown:
        table.add_column(title.upper(), justify="right" if unit or _numeric(rows, key) else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(cell(row.get(key), unit) for key, _, unit in shown))
    stdout().print(table)


def _numeric(rows: list[dict[str, Any]], key: str) -> bool:
    values = [row[key] for row in rows if row.get(key) is not None]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def cell(value: Any, unit: str = "") -> str:
    """A value as a person reads it: a share as a percentage, money with its sign, a time with its unit."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(value)
        return text if len(text) <= 70 else "..." + text[-67:]  # the end of a path or name says most
    if unit == "%":
        return f"{value:.1%}"
    if unit == "$":
        return f"${value:,.2f}" if value >= 1 else f"${value:,.4f}"
    if unit in ("s", "ms"):
        return f"{value:,.0f} {unit}"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


class Rate(ProgressColumn):
    """Items a second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="progress.data.speed")


@contextlib.contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr with the count, rate and time left; yields a `(done, total)` callback."""
    bar = Bar(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeRemainingColumn(),
        console=stderr(),
    )
    with bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


SHOWN_METRICS = ("epoch", "train_accuracy", "val_accuracy", "val_loss", "test_accuracy")


def job_line(job: dict[str, Any]) -> str:
    """One line of a job's progress: the time, its status and the latest of its metrics."""
    detail = f" / {job['secondary_status']}" if job.get("secondary_status") else ""
    metrics = job.get("metrics", {})
    figures = " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k in SHOWN_METRICS)
    if job["status"] == "InProgress" and "eta_s" in metrics:  # train.py's estimate of training's time left
        figures += f" ETA {int(metrics['eta_s']) // 60}:{int(metrics['eta_s']) % 60:02d}"
    return f"{time.strftime('%H:%M:%S')} {job['name']} {job['status']}{detail} {figures}".rstrip()


def watch_job(
    target: Target, name: str, *, as_json: bool = False, must_exist: bool = True, timeout_s: float = 3 * 3600
) -> int:
    """Follow a job until it ends, a line each time it changes; 0 if it completed. `must_exist`: a
    name a person gave, which fails at once when there is no such job (else "Requested" until taken)."""
    for job in client.job_states(target, name, timeout_s=timeout_s, must_exist=must_exist):
        if as_json:
            line = {"job": name, "status": job["status"], "detail": job.get("secondary_status"), **job["metrics"]}
            print(json.dumps(line), flush=True)
        else:
            print(job_line(job), flush=True)
    if job["status"] != "Completed":
        print(f"{name} {job['status']}: {job.get('failure_reason', 'no reason given')}")
        return 1
    return 0
