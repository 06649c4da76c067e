"""Vista's training script: SageMaker script mode (TensorFlow container) or a laptop.

    python training_job/train.py --train DIR [--test DIR] --model-dir OUT --architecture fine_cnn ...

On SageMaker the channels, model and output folders come from SM_* variables and the
hyperparameters as `--name value` arguments (unknown ones, such as the container's
`--model_dir s3://...`, are tolerated). Prints one `name=value;` line per epoch for the
tuner's metric definitions, checkpoints every epoch (a restarted spot job resumes), and
ends with metrics.json, pictures, and a TF Serving SavedModel that takes image bytes.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import evaluation
import thresholds
import unknowns
from architectures import Built, build_model, resolve_weights, unfreeze_top_stages
from data import DatasetError, Split, carve, class_counts, fingerprint, list_classes, pipeline, run_folder, scan
from explain import heatmaps_of
from export import Typical, export_savedmodel
from metric_lines import metric_line

log = logging.getLogger("vista.train")


def _bool(value: str) -> bool:
    if str(value).strip('"').lower() in ("1", "true", "yes", "on"):
        return True
    if str(value).strip('"').lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _text(value: str) -> str:
    """SageMaker's SDK JSON-encodes hyperparameters: '"resnet50"' means resnet50."""
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Train an image classifier and export it for TF Serving")

    def option(name: str, **kwargs: Any) -> None:
        parser.add_argument(f"--{name}", f"--{name.replace('-', '_')}", **kwargs)

    option("architecture", type=_text, default="fine_cnn")
    option("epochs", type=int, default=10, help="epochs with the pretrained base frozen (all epochs for CNNs)")
    option("fine-tune-epochs", type=int, default=5, help="further epochs with the top of the base unfrozen")
    option("fine-tune-stages", type=int, default=1, help="top stages of the base unfrozen, whole, for fine-tuning")
    option("fine-tune-learning-rate", type=float, default=1e-5, help="Adam's, once the top of the base trains")
    option("batch-size", type=int, default=32)
    option("learning-rate", type=float, default=1e-3)
    option("dropout", type=float, default=0.3)
    option("l2", type=float, default=1e-4)
    option("augment", type=_bool, default=True)
    option(
        "class-weight",
        type=_text,
        default="none",
        choices=["none", "balanced"],
        help="balanced: rare classes weigh more",
    )
    option("image-size", type=int, default=150)
    option("weights", type=_text, default="imagenet", help="imagenet, none, or a *_notop.h5 path")
    option("validation-split", type=float, default=0.15, help="carved from train when there is no validation")
    option("test-split", type=float, default=0.15, help="carved from train when there is no test channel")
    option("seed", type=int, default=42)
    option("target-precision", type=float, default=0.95, help="each class's threshold reaches this on validation")
    option("early-stopping-patience", type=int, default=5)
    option("time-budget-s", type=float, default=0, help="no epoch may end past this many seconds of training (0: none)")
    option("mixed-precision", type=_text, default="auto", choices=["auto", "on", "off"])
    option("xla", type=_bool, default=False)
    option("memory-cache-gb", type=float, default=4, help="decoded images cached in memory up to this; else on disk")
    option("train", default=env("SM_CHANNEL_TRAIN", env("SM_CHANNEL_TRAINING")))
    option("validation", default=env("SM_CHANNEL_VALIDATION"))
    option("test", default=env("SM_CHANNEL_TEST"))
    option("other", default=env("SM_CHANNEL_OTHER"), help="scenes of none of the classes: how many are unknown")
    option("weights-dir", default=env("SM_CHANNEL_WEIGHTS"), help="a channel holding *_notop.h5 files")
    option("model-dir", default="model", help="where the SavedModel goes (SM_MODEL_DIR, when set, wins)")
    option("output-data-dir", default=env("SM_OUTPUT_DATA_DIR", "output"))
    option("checkpoint-dir", type=_text, default=_default_checkpoint_dir(), help="resume from and save to here")
    option("hosts", type=json.loads, default=env("SM_HOSTS", '["localhost"]'))
    option("current-host", default=env("SM_CURRENT_HOST", "localhost"))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        log.info("ignoring arguments this script does not use: %s", " ".join(unknown))
    if env("SM_MODEL_DIR"):
        # SageMaker uploads SM_MODEL_DIR (/opt/ml/model) and nothing else. `--model_dir` is the TF
        # container's, for TensorFlow's own S3 checkpoints: the SDK sends s3://..., and for a tuning
        # trial without one the toolkit passes "None/<job>/model" (sagemaker-tensorflow-training-toolkit,
        # training.py, main() and _model_dir_with_training_job). Never a place for the model.
        args.model_dir = env("SM_MODEL_DIR")
    job_name = env("TRAINING_JOB_NAME")
    if args.checkpoint_dir and job_name:
        # A tuning job's trials share one CheckpointConfig (it is part of the TrainingJobDefinition)
        # and SageMaker adds no suffix of its own: each job keeps its checkpoints in a folder named
        # after it, so a trial never resumes another's and a restarted one finds its own.
        args.checkpoint_dir = str(Path(args.checkpoint_dir) / job_name)
    if not args.train:
        parser.error("no training data: pass --train DIR or set SM_CHANNEL_TRAIN")
    return args


SAGEMAKER_CHECKPOINTS = "/opt/ml/checkpoints"  # CheckpointConfig's default LocalPath


def _default_checkpoint_dir() -> str:
    """SageMaker's checkpoint folder inside a SageMaker job (its container sets TRAINING_JOB_NAME),
    never merely because a folder of that name exists on this machine."""
    inside_a_job = bool(os.environ.get("TRAINING_JOB_NAME"))
    return SAGEMAKER_CHECKPOINTS if inside_a_job and Path(SAGEMAKER_CHECKPOINTS).is_dir() else ""


def write_atomically(path: Path, text: str) -> None:
    """A job killed mid-write (a Spot interruption, StopTrainingJob's SIGTERM then SIGKILL) must not
    leave a half-written file for the restarted job to choke on: write beside, then rename."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


class EpochLog(keras.callbacks.Callback):
    """One `name=value;` line per epoch (SageMaker's metric definitions parse it) and a
    history that survives a restart (kept beside the checkpoints)."""

    def __init__(self, history_path: Path | None) -> None:
        super().__init__()
        self.path = history_path
        self.epochs: dict[int, dict[str, float]] = {}
        if history_path and history_path.exists():
            self.epochs = {int(k): v for k, v in json.loads(history_path.read_text()).items()}
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        values = {
            "train_loss": logs.get("loss"),
            "train_accuracy": logs.get("accuracy"),
            "val_loss": logs.get("val_loss"),
            "val_accuracy": logs.get("val_accuracy"),
        }
        seconds = time.perf_counter() - self.started
        line = metric_line(epoch=epoch + 1, **values)
        self.epochs = {e: v for e, v in self.epochs.items() if e < epoch + 1}
        self.epochs[epoch + 1] = {k: v for k, v in logs.items()}
        if self.path:
            write_atomically(self.path, json.dumps(self.epochs))
        print(f"{line} seconds={seconds:.1f};", flush=True)  # once the epoch's history is kept

    def history(self) -> dict[str, list[float]]:
        keys = sorted({k for values in self.epochs.values() for k in values})
        return {k: [self.epochs[e].get(k, float("nan")) for e in sorted(self.epochs)] for k in keys}


class TimeBudget(keras.callbacks.Callback):
    """Training's time budget and its ETA, over every phase: after each epoch, `eta_s` (the planned
    epochs left at the pace so far, or as many as the budget still holds) and, when the next epoch
    would end past the budget, the stop. The pace leaves out the first epoch when there are more
    (it traces the graph and fills the cache)."""

    def __init__(self, budget_s: float, planned_epochs: int) -> None:
        super().__init__()
        self.budget_s, self.planned = budget_s, planned_epochs
        self.started = time.perf_counter()
        self.durations: list[float] = []
        self.done = 0
        self.exhausted = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        self.durations.append(now - self.epoch_started)
        self.done = epoch + 1
        pace = float(np.mean(self.durations[1:] or self.durations))
        elapsed, left = now - self.started, self.planned - self.done
        if self.budget_s:
            left = min(left, max(0, int((self.budget_s - elapsed) // pace)))
            if left == 0 and self.done < self.planned:
                self.exhausted = True
                self.model.stop_training = True
                print(
                    f"time budget: stopping after epoch {self.done} ({elapsed:.0f} s of {self.budget_s:.0f} s; "
                    f"an epoch takes {pace:.0f} s)",
                    flush=True,
                )
        print(f"{metric_line(eta_s=round(left * pace))} elapsed_s={elapsed:.0f};", flush=True)


class ConfigurationError(ValueError):
    """A job set up so that this script cannot train it as asked."""


class MultiWorkerMirrored(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy as Keras 3's `fit` can use it (keras-team/keras#20585, open: the
    TensorFlow tutorial's own example fails). Keras calls `reduce` with a whole (images, labels)
    batch to learn its shapes, and with `axis=0` on each replica's scalar metrics; the collective
    reduce takes one value at a time and has no axis 0 in a scalar. Each value is reduced alone,
    over the replicas only where it is a scalar."""

    def reduce(self, reduce_op: Any, value: Any, axis: int | None) -> Any:
        def one(part: Any) -> Any:
            rank = self.experimental_local_results(part)[0].shape.rank
            return super(MultiWorkerMirrored, self).reduce(reduce_op, part, axis if rank else None)

        return tf.nest.map_structure(one, value)


def distribution(hosts: list[str]) -> tf.distribute.Strategy:
    """Several instances: MultiWorkerMirrored, from the TF_CONFIG SageMaker's TF container builds when
    the job asks for it (`sagemaker_multi_worker_mirrored_strategy_enabled`: every host a worker);
    several GPUs on one instance: Mirrored, one replica a GPU; else the default strategy."""
    if len(hosts) > 1:
        if "TF_CONFIG" not in os.environ:
            raise ConfigurationError(
                f"{len(hosts)} instances but no TF_CONFIG: start the job with the hyperparameter "
                "sagemaker_multi_worker_mirrored_strategy_enabled=true (the SDK's multi_worker_mirrored_strategy)"
            )
        return MultiWorkerMirrored()
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def use_mixed_precision(choice: str) -> bool:
    """'auto': on where every GPU has tensor cores for float16 (compute capability 7.0+)."""
    if choice != "auto":
        return choice == "on"
    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [tf.config.experimental.get_device_details(g).get("compute_capability", (0, 0)) for g in gpus]
    return bool(gpus) and all(c >= (7, 0) for c in capabilities)


def fit_phase(
    model: keras.Model,
    phase: str,
    train_data: tf.data.Dataset,
    val_data: tf.data.Dataset,
    *,
    first_epoch: int,
    epochs: int,
    checkpoint_dir: Path | None,
    epoch_log: EpochLog,
    budget: TimeBudget,
    patience: int,
    class_weight: dict[int, float] | None = None,
) -> int:
    """Train one phase, resuming it from its checkpoint; returns the epoch count reached.

    A finished phase leaves `<phase>.json` and its weights, so a restart skips it."""
    done_file = checkpoint_dir / f"{phase}.json" if checkpoint_dir else None
    if checkpoint_dir and done_file and done_file.exists():
        reached = json.loads(done_file.read_text())["epochs"]
        model.load_weights(checkpoint_dir / f"{phase}.weights.h5")
        print(f"resuming: phase {phase} already finished at epoch {reached}", flush=True)
        return reached
    callbacks: list[keras.callbacks.Callback] = []
    if checkpoint_dir:
        # Keras restores the weights and epoch counter of a phase cut short (a reclaimed spot instance).
        # First in the list: an epoch's line is printed once its checkpoint is on disk. Two
        # checkpoints: a process killed while writing one leaves the previous one to resume from.
        callbacks.append(
            keras.callbacks.BackupAndRestore(
                str(checkpoint_dir / phase), delete_checkpoint=False, double_checkpoint=True
            )
        )
    callbacks += [
        epoch_log,
        budget,
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
    ]
    history = model.fit(
        train_data,
        validation_data=val_data,
        initial_epoch=first_epoch,
        epochs=first_epoch + epochs,
        callbacks=callbacks,
        class_weight=class_weight,
        verbose=0,
    )
    reached = history.epoch[-1] + 1 if history.epoch else first_epoch + epochs
    if checkpoint_dir and done_file:
        model.save_weights(checkpoint_dir / f"{phase}.weights.h5")
        write_atomically(done_file, json.dumps({"epochs": reached}))
    return reached


def balanced_weights(split: Split, classes: int) -> dict[int, float]:
    """Each class's loss weight, inversely as common as it is in the split (scikit-learn's "balanced":
    n / (classes x n_c)), so every class weighs as much in all."""
    counts = np.bincount(np.asarray(split.labels, dtype=int), minlength=classes)
    return {i: len(split) / (classes * int(n)) for i, n in enumerate(counts) if n}


def weights_digest(model: keras.Model) -> str:
    """SHA-256 of a model's weights, in order: the same for the same weights, however loaded."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight, dtype=np.float32).tobytes())
    return digest.hexdigest()


@dataclass
class Splits:
    classes: list[str]
    train: Split
    validation: Split
    test: Split
    test_carved: bool  # the dataset had no test split: this one was carved from train

    @property
    def skipped(self) -> int:
        return len(self.train.skipped) + len(self.validation.skipped) + len(self.test.skipped)

    @property
    def converted(self) -> int:
        return self.train.converted + self.validation.converted + self.test.converted


def read_splits(args: argparse.Namespace, converted: Path) -> Splits:
    """The channels' images by class (photos TensorFlow cannot decode converted into `converted`); a
    test or validation split the dataset lacks is carved from train (seeded, stratified), the test
    split first, so no image is both trained and tested on."""
    classes = list_classes(args.train)
    train_split = scan(args.train, classes, converted=converted)
    if args.test:
        test_split = scan(args.test, classes, converted=converted)
    else:
        train_split, test_split = carve(train_split, args.test_split, args.seed)
    if args.validation:
        val_split = scan(args.validation, classes, converted=converted)
    else:
        train_split, val_split = carve(train_split, args.validation_split, args.seed)
    splits = Splits(classes, train_split, val_split, test_split, test_carved=not args.test)
    print(
        f"classes={len(classes)} {classes}; train={len(train_split)} validation={len(val_split)} "
        f"test={len(test_split)}{' (carved from train)' if splits.test_carved else ''}; "
        f"skipped_files={splits.skipped}; converted_files={splits.converted};",
        flush=True,
    )
    print(f"train images per class: {class_counts(train_split, classes)}", flush=True)
    return splits


@dataclass
class Fitted:
    epochs: int  # reached, over both phases
    fine_tune_from: int | None  # the epoch fine-tuning started after (None: it did not run)
    seconds: float
    history: dict[str, list[float]]


def fit(
    args: argparse.Namespace,
    model: keras.Model,
    base: keras.Model | None,
    data: tuple[tf.data.Dataset, tf.data.Dataset],
    strategy: tf.distribute.Strategy,
    class_weight: dict[int, float] | None = None,
) -> Fitted:
    """The head with the base frozen, then (a transfer model) its top stages unfrozen."""
    checkpoint_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else None
    if checkpoint_dir:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    epoch_log = EpochLog(checkpoint_dir / "history.json" if checkpoint_dir else None)
    fine_tuning = base is not None and args.fine_tune_stages > 0 and args.fine_tune_epochs > 0
    budget = TimeBudget(args.time_budget_s, args.epochs + (args.fine_tune_epochs if fine_tuning else 0))
    phase = functools.partial(
        fit_phase,
        model,
        train_data=data[0],
        val_data=data[1],
        checkpoint_dir=checkpoint_dir,
        epoch_log=epoch_log,
        budget=budget,
        patience=args.early_stopping_patience,
        class_weight=class_weight,
    )
    started = time.perf_counter()
    reached = phase("head", first_epoch=0, epochs=args.epochs)
    fine_tune_from = None
    if base is not None and fine_tuning and not budget.exhausted:
        fine_tune_from = reached
        with strategy.scope():
            unfrozen = unfreeze_top_stages(base, args.architecture, args.fine_tune_stages)
            model.compile(
                optimizer=keras.optimizers.Adam(args.fine_tune_learning_rate),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        print(
            f"fine-tuning the top {args.fine_tune_stages} stage(s) of {base.name} ({unfrozen} layers) "
            f"at learning rate {args.fine_tune_learning_rate:g} from epoch {reached + 1}",
            flush=True,
        )
        reached = phase("fine_tune", first_epoch=reached, epochs=args.fine_tune_epochs)
    seconds = time.perf_counter() - started
    print(f"{metric_line(fit_seconds=seconds)} epochs_run={budget.done};", flush=True)
    return Fitted(reached, fine_tune_from, seconds, epoch_log.history())


def train(args: argparse.Namespace, cache_dir: str) -> dict[str, Any]:
    """Train, evaluate and export; `cache_dir` holds this run's decoded images if they are too many for memory."""
    keras.utils.set_random_seed(args.seed)
    if args.xla:
        tf.config.optimizer.set_jit(True)
    mixed = use_mixed_precision(args.mixed_precision)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    strategy = distribution(args.hosts)
    chief = args.hosts.index(args.current_host) == 0 if args.current_host in args.hosts else True
    splits = read_splits(args, Path(cache_dir) / "converted")
    batch = args.batch_size * strategy.num_replicas_in_sync
    cached = {
        "batch_size": batch,
        "seed": args.seed,
        "cache_dir": cache_dir,
        "memory_cache_bytes": int(args.memory_cache_gb * 1024**3),
    }
    train_data = pipeline(splits.train, image_size=args.image_size, training=True, **cached)
    val_data = pipeline(splits.validation, image_size=args.image_size, training=False, **cached)

    weights = resolve_weights(args.architecture, args.weights, args.weights_dir)
    model_options = dict(
        image_size=args.image_size, dropout=args.dropout, l2=args.l2, augment=args.augment, seed=args.seed
    )
    with strategy.scope():
        built = build_model(args.architecture, len(splits.classes), weights=weights, **model_options)
        model, base = built.model, built.base
        if base is not None:
            base.trainable = False
        model.compile(
            optimizer=keras.optimizers.Adam(args.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    if base is not None:  # which pretrained weights the job really starts from, checkable against the file
        print(f"base_weights={Path(weights).name if weights else 'none'}; base_sha256={weights_digest(base)};")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(
        f"architecture={args.architecture}; parameters={model.count_params()}; "
        f"base_parameters={base.count_params() if base else 0}; trainable={trainable}; "
        f"mixed_precision={mixed}; xla={args.xla}; replicas={strategy.num_replicas_in_sync}; global_batch={batch};",
        flush=True,
    )
    weights_of_classes = (
        balanced_weights(splits.train, len(splits.classes)) if args.class_weight == "balanced" else None
    )
    if weights_of_classes:
        shown = {splits.classes[i]: round(w, 3) for i, w in weights_of_classes.items()}
        print(f"class weights (balanced, from the training split's counts): {shown}", flush=True)
    fitted = fit(args, model, base, (train_data, val_data), strategy, weights_of_classes)
    if not chief:  # training was shared; evaluating and exporting is the chief's alone
        print(f"{args.current_host}: training done; {args.hosts[0]} evaluates and exports the model", flush=True)
        return {}
    # Evaluated, explained and served as a float32 twin of the model (same layers, same weights, outside
    # any strategy): what the CPU endpoint runs.
    keras.mixed_precision.set_global_policy("float32")
    twin = build_model(args.architecture, len(splits.classes), **model_options)
    twin.model.set_weights(model.get_weights())
    twin.model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return evaluate_and_export(args, twin, splits, fitted, batch=batch, parameters=model.count_params())


def evaluate_and_export(
    args: argparse.Namespace, twin: Built, splits: Splits, fitted: Fitted, *, batch: int, parameters: int
) -> dict[str, Any]:
    """The tuner's objective line, the test split's metrics, the SavedModel and the job's pictures."""
    classes, serving, with_features = splits.classes, twin.model, twin.with_features()
    # The tuner's final objective is the last value printed: the model exported (EarlyStopping's restored
    # best epoch, as served), on the validation split, not whatever the last epoch scored.
    val_eval = pipeline(splits.validation, image_size=args.image_size, batch_size=batch, training=False, seed=args.seed)
    val_loss, val_accuracy = serving.evaluate(val_eval, verbose=0)
    print(f"final: {metric_line(val_loss=val_loss, val_accuracy=val_accuracy)} (the exported model)", flush=True)
    test_data = pipeline(splits.test, image_size=args.image_size, batch_size=batch, training=False, seed=args.seed)
    test_loss, _ = serving.evaluate(test_data, verbose=0)
    calibrated = unknowns.calibrate(args, with_features, splits, batch)
    probabilities = calibrated.test.probabilities
    y_true = np.array(splits.test.labels)
    predicted = np.argmax(probabilities, axis=-1)
    metrics = evaluation.classification_metrics(y_true, predicted, classes)
    metrics.update(calibrated.fields)
    kept = calibrated.cuts.kept(probabilities, calibrated.test.distance)
    print(
        f"thresholds: answered_and_right={metrics['thresholded']['answered_and_right']:.4f}; "
        f"unknown_share={metrics['thresholded']['unknown_share']:.4f}; (test split)",
        flush=True,
    )
    metrics.update(
        # What serving will be held to without labels (functions/vista_app/drift.py): the share of
        # each class (and of "unknown", under the thresholds) among the model's answers on the test
        # split, and its mean confidence there.
        reference={
            "class_mix": {c: round(float(np.mean(kept & (predicted == i))), 4) for i, c in enumerate(classes)}
            | {thresholds.UNKNOWN: metrics["thresholded"]["unknown_share"]},
            "mean_confidence": round(float(np.mean(np.max(probabilities, axis=-1))), 4),
        },
        loss=round(float(test_loss), 4),
        architecture=args.architecture,
        epochs=fitted.epochs,
        fine_tune_from_epoch=fitted.fine_tune_from,
        training_seconds=round(fitted.seconds, 1),
        parameters=parameters,
        skipped_files=splits.skipped,
        converted_files=splits.converted,
        evaluated_on="test (carved from train)" if splits.test_carved else "test",
        test_set={"digest": fingerprint(splits.test, classes), "images": len(splits.test)},
        hyperparameters={
            k: v for k, v in vars(args).items() if k not in ("train", "validation", "test", "hosts", "current_host")
        },
    )
    print(
        metric_line(test_loss=metrics["loss"], test_accuracy=metrics["accuracy"], test_macro_f1=metrics["macro_f1"]),
        flush=True,
    )

    typical = Typical(with_features, calibrated.typical)
    export_savedmodel(serving, classes, args.image_size, args.model_dir, model_name=model_name(), typical=typical)
    samples = [Path(p).read_bytes() for p in splits.test.paths[:10]]
    metrics.update(evaluation.serving_latency(args.model_dir, samples))
    print(f"serving_latency_ms={metrics['serving_latency_ms']:.2f}; (batch 1, CPU)", flush=True)
    evaluation.write_json(metrics, args.model_dir, args.output_data_dir)
    output = Path(args.output_data_dir)
    wrong = evaluation.misclassified(splits.test.paths, y_true, probabilities, classes)
    # What drove each mistake: the heatmap of the class the model wrongly gave (what `explain` answers).
    heatmaps = heatmaps_of(serving, [w["path"] for w in wrong], args.image_size)
    for mistake, heatmap in zip(wrong, heatmaps, strict=True):
        mistake["thumbnail"] = evaluation.thumbnail(mistake.pop("path"), heatmap)
    (output / "misclassified.json").write_text(json.dumps(wrong, indent=2))
    (output / "history.json").write_text(json.dumps(fitted.history))
    return metrics


def model_name() -> str:
    """What the exported model calls itself in every answer: its training job's name (SageMaker's
    container sets TRAINING_JOB_NAME), so a prediction names the model that really answered."""
    return os.environ.get("TRAINING_JOB_NAME", "")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        with run_folder() as cache_dir:
            train(args, cache_dir)
    except (DatasetError, ConfigurationError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        if os.environ.get("SM_OUTPUT_DIR"):  # SageMaker shows this file as the job's FailureReason
            (Path(os.environ["SM_OUTPUT_DIR"]) / "failure").write_text(f"{type(error).__name__}: {error}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
