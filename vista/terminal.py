"""What the `vista` command and the demo print: tables, progress bars and a job's progress."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from vista import client
from vista.target import Target


def show(rows: list[dict[str, Any]], columns: list[str], as_json: bool, raw: Any = None) -> None:
    if as_json:
        print(json.dumps(raw if raw is not None else rows, indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    return text if len(text) <= 70 else "..." + text[-67:]  # the end of a path or name says most


def progress(done: int, total: int, label: str) -> None:
    """A bar redrawn in place on a terminal; a line per quarter when stderr is a file or pipe."""
    width = 30
    filled = int(width * done / max(total, 1))
    bar = f"{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
    if sys.stderr.isatty():
        print(f"\r{bar}", end="\n" if done >= total else "", file=sys.stderr, flush=True)
    elif done in {0, total} or done * 4 // max(total, 1) != (done - 1) * 4 // max(total, 1):
        print(bar, file=sys.stderr, flush=True)


SHOWN_METRICS = ("epoch", "train_accuracy", "val_accuracy", "val_loss", "test_accuracy")


def job_line(job: dict[str, Any]) -> str:
    """One line of a job's progress: the time, its status and the latest of its metrics."""
    detail = f" / {job['secondary_status']}" if job.get("secondary_status") else ""
    metrics = job.get("metrics", {})
    figures = " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k in SHOWN_METRICS)
    if job["status"] == "InProgress" and "eta_s" in metrics:  # train.py's estimate of training's time left
        figures += f" ETA {int(metrics['eta_s']) // 60}:{int(metrics['eta_s']) % 60:02d}"
    return f"{time.strftime('%H:%M:%S')} {job['name']} {job['status']}{detail} {figures}".rstrip()


def watch_job(target: Target, name: str, *, as_json: bool = False, timeout_s: float = 3 * 3600, out: Any = None) -> int:
    """Follow a job until it ends, a line each time it changes; 0 if it completed."""
    out = out or sys.stdout
    for job in client.job_states(target, name, timeout_s=timeout_s, must_exist=True):
        if as_json:
            line = {"job": name, "status": job["status"], "detail": job.get("secondary_status"), **job["metrics"]}
            print(json.dumps(line), file=out, flush=True)
        else:
            print(job_line(job), file=out, flush=True)
    if job["status"] != "Completed":
        print(f"{name} {job['status']}: {job.get('failure_reason', 'no reason given')}", file=out)
        return 1
    return 0
