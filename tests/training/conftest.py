"""The training tier's shared fixture."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six synthetic classes in Kaggle's layout: 8 training and 3 test images each, 48 px (one per
    worker: session-scoped, so the tests that read it need not share a worker)."""
    from synthetic import generate

    out = tmp_path_factory.mktemp("scenes")
    generate(out, train_per_class=8, test_per_class=3, size=48, seed=3)
    return out
