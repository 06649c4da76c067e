"""How unlike the training images of the class it would be given an image is: the Mahalanobis
distance, in the model's pooled features (architectures.Built.features: what its image part makes of
the picture, before the head folds it into the classes), to that class's mean, with one covariance shared
by the classes (Lee et al., "A Simple Unified Framework for Detecting
Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018).

A softmax answers one of its classes with high probability for many images of none of them; their
features lie far from every class's training images, which the distance sees. The covariance is
shrunk towards its mean variance (a dataset may have fewer images than features), and the distance
is computed as a whitened Euclidean one: features x W, less the class's whitened mean, squared and
summed, over the number of features (about 1 for a typical image of the class).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SHRINKAGE = 0.1  # the share of the covariance replaced by its mean variance
KEEP = 0.98  # the share of images like the validation split's right answers kept (not unknown)


@dataclass(frozen=True)
class Typicality:
    whitening: np.ndarray  # [features, features]: W, so that (x - mean) W has an identity covariance
    means: np.ndarray  # [classes, features]: each class's mean training feature, whitened

    def distances(self, features: np.ndarray) -> np.ndarray:
        """[images, classes]: each image's squared whitened distance to each class, per feature."""
        whitened = features @ self.whitening
        return ((whitened[:, None, :] - self.means[None]) ** 2).sum(-1) / self.whitening.shape[0]

    def distance(self, features: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """Each image's distance to the class it would be given (what serving answers as `distance`)."""
        return self.distances(features)[np.arange(len(features)), probabilities.argmax(axis=-1)]


def fit(features: np.ndarray, labels: np.ndarray, classes: int) -> Typicality:
    """Class means and the shared covariance of the training split's features."""
    features = features.astype(np.float64)
    means = np.stack([features[labels == k].mean(0) for k in range(classes)])
    centered = features - means[labels]
    covariance = centered.T @ centered / max(len(features) - classes, 1)
    dimension = covariance.shape[0]
    covariance = (1 - SHRINKAGE) * covariance + SHRINKAGE * np.trace(covariance) / dimension * np.eye(dimension)
    values, vectors = np.linalg.eigh(covariance)
    whitening = vectors / np.sqrt(np.maximum(values, 1e-12))
    return Typicality(whitening.astype(np.float32), (means @ whitening).astype(np.float32))


def calibrate(distance: np.ndarray, probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The distance within which lie KEEP of the validation split's right answers: their
    ceil((n + 1) x KEEP)-th smallest (split conformal prediction's bound: an image like them is
    within it with probability KEEP at least), the largest when they are too few. One for all
    classes (the whitening makes their distances alike): a few validation images of a class would
    set a class's own by chance."""
    right = probabilities.argmax(axis=-1) == truth
    ranked = np.sort(distance[right] if right.any() else distance)
    if not len(ranked):
        return 0.0
    rank = min(math.ceil((len(ranked) + 1) * KEEP), len(ranked))
    return round(float(ranked[rank - 1]), 4)
