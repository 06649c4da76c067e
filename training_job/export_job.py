"""A trained model exported in one portable format, as a SageMaker training job (script mode).

The job is given the model's own training job's hyperparameters and data channels (train, and test
and validation when the dataset had them), so `train.read_splits` finds the very test split the
model was judged on; the `test_set` hyperparameter is that split's fingerprint (metrics.json), and a
dataset changed since fails the job rather than check the export on other images. The `model`
channel holds the model's model.tar.gz; the export goes into SM_MODEL_DIR, so the job's own
model.tar.gz is the archive a user downloads. A float export that does not answer as the served
model does fails the job with the reason (portable.NotOffered).
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
from pathlib import Path

from data import fingerprint, run_folder
from portable import FORMATS, NotOffered, export
from train import Splits, _text, parse_args, read_splits


def export_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", type=_text, choices=FORMATS, required=True)
    parser.add_argument("--test_set", "--test-set", type=_text, required=True, help="the test split's fingerprint")
    parser.add_argument("--model", default=os.environ.get("SM_CHANNEL_MODEL"), help="holds model.tar.gz")
    args, _ = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    wanted = export_args(argv)
    with run_folder() as converted:
        return exported(wanted, read_splits(parse_args(argv), Path(converted)))


def exported(wanted: argparse.Namespace, splits: Splits) -> int:
    found = fingerprint(splits.test, splits.classes)
    if found != wanted.test_set:
        print(
            f"ValueError: the dataset's test split is not the one the model was judged on (fingerprint {found[:12]}, "
            f"the model's {wanted.test_set[:12]}): the dataset changed since; export a model trained on it as it is",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory() as folder, tarfile.open(Path(wanted.model) / "model.tar.gz") as archive:
        archive.extractall(folder, filter="data")
        try:
            test, calibration = [Path(p) for p in splits.test.paths], [Path(p) for p in splits.train.paths]
            out = Path(os.environ.get("SM_MODEL_DIR", "model"))
            figures = export(Path(folder), test, wanted.format, out, calibration)
        except NotOffered as error:
            print(f"ValueError: {error}", file=sys.stderr)
            return 2
    print(f"exported {wanted.format}: {figures}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
