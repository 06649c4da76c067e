"""The names of the SageMaker jobs this stack starts, and the states they end in (no dependencies:
the lifecycle and the `vista` command read them)."""

from __future__ import annotations

import hashlib

# TrainingJobStatus and HyperParameterTuningJobStatus (SageMaker API reference): the states a job
# stays in once reached; a comparison of jobs ends in them too.
TERMINAL = ("Completed", "Failed", "Stopped")


def job_name(prefix: str, identity: str) -> str:
    """Deterministic, so a redelivered event names the same job; ≤ 32 characters as tuning jobs need."""
    return f"{prefix}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


def is_tuning_child(name: str, prefix: str) -> bool:
    """Training jobs a tuning job starts are named <tuning job>-<NNN>-<hash>."""
    return name.startswith(prefix + "-") and name.count("-") > prefix.count("-") + 1
