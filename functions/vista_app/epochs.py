"""Live training curves: the `epoch=N; train_loss=...;` lines train.py prints, read back from
the CloudWatch Logs SageMaker streams every training job's output to (the same lines its
metric definitions parse), so a console can draw a job's curves while it trains."""

from __future__ import annotations

import itertools
import re
from typing import Any

from vista_app.metric_lines import METRIC_DEFINITIONS
from vista_app.names import is_trial_of

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
MAX_PAGES = 20  # ~10,000 lines: far more epochs than any job runs
_PATTERNS = [(d["Name"], re.compile(d["Regex"])) for d in METRIC_DEFINITIONS]


def parse_epoch(line: str) -> dict[str, float] | None:
    values = {}
    for name, pattern in _PATTERNS:
        match = pattern.search(line)
        if match and match.group(1) != "nan":
            values[name] = float(match.group(1))
    return values if "epoch" in values else None


def training_curves(logs: Any, name: str) -> dict[str, list[dict[str, float]]]:
    """Per training job (the job itself, or a tuning job's trials), its epochs in order; a
    restarted (spot) job's repeated epochs keep their latest values."""
    series: dict[str, dict[int, dict[str, float]]] = {}
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=LOG_GROUP, logStreamNamePrefix=name, filterPattern='"epoch="'
    )
    try:
        for page in itertools.islice(pages, MAX_PAGES):
            for event in page.get("events", []):
                job = event["logStreamName"].split("/", 1)[0]
                if job != name and not is_trial_of(job, name):
                    continue
                epoch = parse_epoch(event["message"])
                if epoch:
                    series.setdefault(job, {})[int(epoch["epoch"])] = epoch
    except logs.exceptions.ResourceNotFoundException:  # no job has logged yet in this region
        return {}
    return {job: [epochs[e] for e in sorted(epochs)] for job, epochs in sorted(series.items())}
