"""The names of the SageMaker jobs this stack starts, and the states they end in (no dependencies:
the lifecycle and the `vista` command read them)."""

from __future__ import annotations

import hashlib
import re

# TrainingJobStatus and HyperParameterTuningJobStatus (SageMaker API reference): the states a job
# stays in once reached; a comparison of jobs ends in them too.
TERMINAL = ("Completed", "Failed", "Stopped")


def job_name(prefix: str, identity: str) -> str:
    """Deterministic, so a redelivered event names the same job; ≤ 32 characters as tuning jobs need."""
    return f"{prefix}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


# SageMaker names the training jobs a tuning job starts <tuning job>-<NNN>-<8 hex digits>.
TRIAL = r"-\d{3}-[0-9a-f]{8}"


def is_trial_of(name: str, tuning_job: str) -> bool:
    return re.fullmatch(re.escape(tuning_job) + TRIAL, name) is not None


def is_tuning_child(name: str, prefix: str) -> bool:
    """A trial of any tuning job this stack (`prefix`) started."""
    return re.fullmatch(rf"{re.escape(prefix)}-[^-]+{TRIAL}", name) is not None


def export_job_name(prefix: str, model: str, fmt: str) -> str:
    """The training job that exports `model` in `fmt`: one per pair, so a second request finds the first."""
    return f"{prefix}-export-{hashlib.sha256(f'{model}/{fmt}'.encode()).hexdigest()[:16]}"
