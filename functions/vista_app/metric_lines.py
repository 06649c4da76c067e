"""The metric lines training prints and SageMaker parses: `name=value;` for each of METRIC_NAMES,
read with METRIC_DEFINITIONS' regexes into a job's metrics, its FinalMetricDataList and a tuning
job's objective (the last value a job prints). One file for both sides: training_job/metric_lines.py
is a link to it, packed into the training code as a file of its own (training_job/Makefile)."""

from __future__ import annotations

METRIC_NAMES = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "test_macro_f1",
    "eta_s",  # training's time left, each epoch (train.py's TimeBudget)
    "fit_seconds",
)
METRIC_DEFINITIONS = [{"Name": name, "Regex": rf"\b{name}=([-+0-9.eE]+|nan);"} for name in METRIC_NAMES]


def metric_line(**values: float | None) -> str:
    """`name=value;` for each value given (None: left out), in the order given; whole numbers as such."""
    unknown = set(values) - set(METRIC_NAMES)
    if unknown:
        raise ValueError(f"not metrics SageMaker parses: {sorted(unknown)}")
    return " ".join(
        f"{name}={value};" if isinstance(value, int) else f"{name}={value:.4f};"
        for name, value in values.items()
        if value is not None
    )
