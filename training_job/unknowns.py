"""What a trained model should answer "unknown" to, decided at the end of training: each class's
probability threshold (thresholds.py) and distance threshold (typicality.py), both calibrated on the
validation split, never the test split; what they do on the test split, and on scenes of none of the
classes (the `other` channel) with and without them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

import thresholds
import typicality
from data import IMAGE_SUFFIXES, Split, pipeline
from thresholds import Cuts


@dataclass(frozen=True)
class Answers:
    """What the model said of a split: each image's features (architectures.Built.features),
    probabilities, and distance to the class it would be given."""

    features: np.ndarray
    probabilities: np.ndarray
    distance: np.ndarray | None = None


@dataclass(frozen=True)
class Calibrated:
    fields: dict[str, Any]  # for metrics.json
    typical: typicality.Typicality
    cuts: Cuts
    test: Answers


def answers_of(model: keras.Model, split: Split, args: argparse.Namespace, batch: int) -> Answers:
    data = pipeline(split, image_size=args.image_size, batch_size=batch, training=False, seed=args.seed)
    features, probabilities = model.predict(data, verbose=0)
    return Answers(features, probabilities)


def calibrate(args: argparse.Namespace, model: keras.Model, splits: Any, batch: int) -> Calibrated:
    """The thresholds and their figures; `model` answers [features, probabilities] (Built.with_features),
    `splits` is train.Splits."""
    classes = splits.classes
    train, validation, test = (
        answers_of(model, s, args, batch) for s in (splits.train, splits.validation, splits.test)
    )
    typical = typicality.fit(train.features, np.asarray(splits.train.labels), len(classes))

    def measured(answers: Answers) -> Answers:
        return Answers(
            answers.features, answers.probabilities, typical.distance(answers.features, answers.probabilities)
        )

    validation, test = measured(validation), measured(test)
    truth = np.asarray(splits.validation.labels)
    by_probability = thresholds.calibrate(validation.probabilities, truth, classes, args.target_precision)
    by_distance = typicality.calibrate(validation.distance, validation.probabilities, truth)  # type: ignore[arg-type]
    cuts = Cuts([by_probability[c]["threshold"] for c in classes], by_distance)
    fields: dict[str, Any] = {
        "thresholds": dict(zip(classes, cuts.probability, strict=True)),
        "distance_threshold": by_distance,
        "calibration": {"target_precision": args.target_precision, "split": "validation", "per_class": by_probability},
        "thresholded": thresholds.on_test(
            test.probabilities, np.asarray(splits.test.labels), classes, cuts, test.distance
        ),
    }
    if args.other:
        fields["other_kinds"] = other_kinds(model, args, batch, typical, cuts)
    return Calibrated(fields, typical, cuts, test)


def other_kinds(
    model: keras.Model, args: argparse.Namespace, batch: int, typical: typicality.Typicality, cuts: Cuts
) -> dict[str, Any]:
    """Scenes of none of the classes: the share answered "unknown" with the thresholds, with the
    probability thresholds alone, and with none (every answer a class)."""
    paths = sorted(str(p) for p in Path(args.other).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        return {"images": 0}
    answers = answers_of(model, Split(paths, [0] * len(paths)), args, batch)
    distance = typical.distance(answers.features, answers.probabilities)
    figures = {
        "images": len(paths),
        "unknown_share": thresholds.unknown_share(answers.probabilities, cuts, distance),
        "unknown_share_by_probability_alone": thresholds.unknown_share(answers.probabilities, Cuts(cuts.probability)),
        "unknown_share_without_thresholds": thresholds.unknown_share(
            answers.probabilities, Cuts([0.0] * len(cuts.probability))
        ),
    }
    print(
        f"other kinds: images={len(paths)}; unknown_share={figures['unknown_share']:.4f}; "
        f"by_probability_alone={figures['unknown_share_by_probability_alone']:.4f};",
        flush=True,
    )
    return figures
