"""Several replicas on one instance (a multi-GPU instance type), seen on CPUs: MirroredStrategy over
two logical CPU devices trains the project's model on the project's pipeline to the same weights as
one device does with the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vista.project import ROOT

# Logical devices must be set before TensorFlow starts: a process of its own.
MIRRORED = """
import json, sys
from pathlib import Path
import numpy as np, tensorflow as tf, keras
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from architectures import build_model
from data import list_classes, pipeline, scan

root = sys.argv[1]
split = scan(root, list_classes(root), converted=Path(root).parent / "converted")

def run(strategy, per_replica):
    keras.utils.set_random_seed(3)
    with strategy.scope():
        model = build_model("base_cnn", len(list_classes(root)), image_size=32, augment=False).model
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    batch = per_replica * strategy.num_replicas_in_sync  # train.py's global batch
    # In a fixed order (training's map is not deterministic), so both runs see the same batches.
    data = pipeline(split, image_size=32, batch_size=batch, training=False, seed=3)
    shapes = [v.shape[0] for v in strategy.experimental_local_results(
        next(iter(strategy.experimental_distribute_dataset(data)))[0])]
    start = np.concatenate([w.ravel() for w in model.get_weights()])
    history = model.fit(data, epochs=2, verbose=0).history["loss"]
    return {"replicas": strategy.num_replicas_in_sync, "global_batch": batch, "per_replica": shapes,
            "loss": history, "start": start.tolist(),
            "weights": np.concatenate([w.ravel() for w in model.get_weights()]).tolist()}

mirrored = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), 4)
alone = run(tf.distribute.OneDeviceStrategy("/cpu:0"), 8)
print(json.dumps({"mirrored": mirrored, "alone": alone}))
"""


@pytest.mark.slow
def test_mirrored_over_two_devices_trains_what_one_device_trains_with_the_same_global_batch(tmp_path: Path) -> None:
    import numpy as np

    from synthetic import generate

    generate(tmp_path, train_per_class=8, test_per_class=0, size=32, seed=2)
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path / "seg_train")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT / "training_job",
        env={"PYTHONPATH": str(ROOT / "training_job"), "TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    mirrored, alone = answer["mirrored"], answer["alone"]
    # Two replicas, each given half of the global batch of 8.
    assert (mirrored["replicas"], mirrored["global_batch"], mirrored["per_replica"]) == (2, 8, [4, 4])
    assert (alone["replicas"], alone["global_batch"], alone["per_replica"]) == (1, 8, [8])
    # Gradients averaged over the replicas are the global batch's: from the same start, the same
    # training step for step, up to float sums taken in another order.
    start, ours, theirs = (np.array(x) for x in (alone["start"], mirrored["weights"], alone["weights"]))
    np.testing.assert_array_equal(np.array(mirrored["start"]), start)
    moved, apart = np.linalg.norm(theirs - start), np.linalg.norm(ours - theirs)
    assert moved > 0.1 and apart < 1e-4 * moved, (moved, apart)
    np.testing.assert_allclose(mirrored["loss"], alone["loss"], rtol=1e-5)
