"""training_job's datasets: the layout, what is skipped, the splits, the synthetic scenes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers.jobs import run_train, sagemaker_environment, train_command


def test_kaggle_layout_and_classes_from_folder_names(tiny_dataset: Path) -> None:
    from data import class_root, list_classes

    assert class_root(tiny_dataset / "seg_train") == tiny_dataset / "seg_train" / "seg_train"
    assert list_classes(tiny_dataset / "seg_train") == ["buildings", "forest", "glacier", "mountain", "sea", "street"]


def test_corrupt_files_are_skipped_and_counted(tiny_dataset: Path, tmp_path: Path) -> None:
    from data import list_classes, scan

    root = tmp_path / "train"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 20), (i * 50, 10, 10)).save(root / label / f"{i}.png")
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "b" / "notes.jpg").write_text("hello")
    split = scan(root, list_classes(root), converted=tmp_path / "converted")
    assert len(split) == 6
    assert sorted(Path(p).name for p in split.skipped) == ["broken.jpg", "notes.jpg"]


def test_one_class_or_an_empty_class_fails_early_and_clearly(tmp_path: Path) -> None:
    from data import DatasetError, list_classes, scan

    (tmp_path / "only" / "forest").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "only" / "forest" / "0.png")
    with pytest.raises(DatasetError, match="at least 2 are needed"):
        list_classes(tmp_path / "only")
    (tmp_path / "only" / "sea").mkdir()
    with pytest.raises(DatasetError, match="class 'sea' has no images"):
        scan(tmp_path / "only", list_classes(tmp_path / "only"), converted=tmp_path / "converted")


def test_validation_split_is_seeded_and_stratified() -> None:
    from data import Split, carve

    split = Split([f"{c}{i}" for c in "ab" for i in range(20)], [0] * 20 + [1] * 20)
    train, validation = carve(split, 0.25, seed=1)
    assert validation.labels.count(0) == validation.labels.count(1) == 5
    assert not set(train.paths) & set(validation.paths)
    assert carve(split, 0.25, seed=1)[1].paths == validation.paths


def test_synthetic_dataset_is_deterministic_and_in_kaggle_layout(tmp_path: Path) -> None:
    from synthetic import CLASSES, generate

    a, b = tmp_path / "a", tmp_path / "b"
    assert generate(a, train_per_class=2, test_per_class=1, size=40, seed=5) == {"train": 12, "test": 6, "other": 0}
    generate(b, train_per_class=2, test_per_class=1, size=40, seed=5)
    files = sorted(p.relative_to(a) for p in a.rglob("*.jpg"))
    assert {p.parts[2] for p in files} == set(CLASSES)
    assert all((a / p).read_bytes() == (b / p).read_bytes() for p in files)


def test_a_test_split_is_known_by_its_images_not_their_names(tiny_dataset: Path, tmp_path: Path) -> None:
    import shutil

    from data import fingerprint, list_classes, scan

    test = tiny_dataset / "seg_test"
    classes = list_classes(test)
    moved = tmp_path / "elsewhere"
    shutil.copytree(test, moved)
    for path in sorted(moved.rglob("*.jpg")):  # the same images under other names
        path.rename(path.with_name("renamed-" + path.name))
    assert fingerprint(scan(moved, classes, converted=tmp_path), classes) == fingerprint(
        scan(test, classes, converted=tmp_path), classes
    )
    changed = sorted(moved.rglob("*.jpg"))[0]
    changed.write_bytes(next(iter(sorted((tiny_dataset / "seg_train").rglob("*.jpg")))).read_bytes())
    assert fingerprint(scan(moved, classes, converted=tmp_path), classes) != fingerprint(
        scan(test, classes, converted=tmp_path), classes
    )


def test_a_dataset_of_plain_class_folders_is_tested_on_images_carved_from_it(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    import shutil

    # GIVEN <class>/*.jpg and no test channel (find_channels gives a plain class-folder dataset so)
    flat = tmp_path / "flat"
    shutil.copytree(tiny_dataset / "seg_train" / "seg_train", flat)
    environment = sagemaker_environment(tmp_path, tiny_dataset) | {"SM_CHANNEL_TRAIN": str(flat)}
    environment.pop("SM_CHANNEL_TEST")
    result = subprocess.run(
        train_command(epochs=1), env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # THEN a seeded, stratified test split of its own (one of each class's 8), apart from validation's
    assert "train=36 validation=6 test=6 (carved from train);" in result.stdout
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["evaluated_on"] == "test (carved from train)" and metrics["test_set"]["images"] == 6


def test_a_bad_dataset_fails_with_a_reason_sagemaker_can_show(tmp_path: Path) -> None:
    (tmp_path / "data" / "forest").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "data" / "forest" / "0.png")
    environment = sagemaker_environment(tmp_path, tmp_path)
    environment["SM_CHANNEL_TRAIN"] = str(tmp_path / "data")
    (tmp_path / "output").mkdir()
    result = run_train(["--weights", "none"], environment)
    assert result.returncode == 2
    assert "at least 2 are needed" in result.stderr
    assert "at least 2 are needed" in (tmp_path / "output" / "failure").read_text()
