"""`vista demo`: Vista end to end on this machine, in local mode.

A synthetic scene dataset lands in S3, a training request starts a (local) SageMaker job, the
model is promoted to the serverless endpoint, the held-out images are dropped into inbox/ and
classified through SQS into DynamoDB, and the results are summed up. Each run starts afresh;
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import json
import shutil
import signal
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vista import client
from vista.project import ROOT, training_module
from vista.target import Target
from vista.terminal import job_line, progress
from vista_app.predictions import UNKNOWN
from vista_app.records import Predictions

WORKDIR = ROOT / ".vista" / "demo"
OTHER_PER_KIND = 8  # scenes of each other kind (synthetic.OTHER_KINDS): measured by the job, then sent
OTHER_FOLDER = "other-kinds"  # where they go in the inbox


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run_demo(
    *, train_per_class: int, test_per_class: int, epochs: int, image_size: int, budget_s: int, verbose: bool = False
) -> int:
    import boto3

    from vista.local.cloud import REGION, LocalCloud

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly on SIGTERM as on Ctrl-C
    started = time.monotonic()
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir(parents=True)
    step("starting the local cloud (moto, local SageMaker, dispatcher, API) on 127.0.0.1")
    with LocalCloud(WORKDIR / "cloud", verbose=verbose) as cloud:
        target = Target(cloud.outputs, REGION, boto3.Session(region_name=REGION))
        print(f"API: {cloud.urls['api']}   bucket: s3://{cloud.outputs['DataBucketName']}")

        step(f"generating the synthetic scene dataset: 6 classes x ({train_per_class} train + {test_per_class} test)")
        data = WORKDIR / "data"
        training_module("synthetic").generate(
            data,
            train_per_class=train_per_class,
            test_per_class=test_per_class,
            size=150,
            seed=7,
            other_per_kind=OTHER_PER_KIND,
        )
        step("uploading it to datasets/scenes/")
        with progress("uploading") as uploaded:
            client.upload_dataset(target, data, "scenes", progress=uploaded)

        step(
            f"requesting training: fine_cnn, up to {epochs} epochs at {image_size}x{image_size}, on this CPU, "
            f"within a budget of {budget_s} s (no epoch ends past it; early stopping may end it sooner)"
        )
        request = client.cpu_request(
            "datasets/scenes",
            "fine_cnn",
            epochs=epochs,
            image_size=image_size,
            # 8, as `make train-example`: this CPU model's val_loss on 72 validation images jumps
            # about (batch norm), and with 5 one run stopped at epoch 8 on epoch 3's weights (90%
            # on the held-out images); the budget, not the patience, bounds the time.
            early_stopping_patience=8,
            time_budget_s=budget_s,
        ) | {"max_runtime_s": 3600}
        states: list[dict[str, Any]] = []

        def follow(job: dict[str, Any]) -> None:
            states.append(job)
            print(job_line(job), flush=True)

        # the job followed to Completed, then the champion/challenger gate and the serverless endpoint
        model = client.train_champion(target, request, "demo", timeout_s=3600, on_state=follow)
        job = model["name"]
        trained = states[-1]["metrics"]
        training = {"epochs": int(trained["epoch"]), "seconds": trained["fit_seconds"], "budget_s": budget_s}
        print(f"training: {training['epochs']} epochs in {training['seconds']:.0f} s of the {budget_s} s budget")
        step("promotion: the champion/challenger gate and the serverless endpoint")
        print(f"model {job}: {model['state']} (test accuracy {model['accuracy']:.1%})")
        print(f"endpoint {cloud.outputs['EndpointName']} is InService, serving {job}")
        [change, *_] = target.api("GET", "/models/history", query={"limit": 1})["items"]
        package = target.client("sagemaker").describe_model_package(ModelPackageName=model["model_package"])
        print(f"history: {change.get('from') or 'nothing'} -> {change['to']} ({change['why']}, {change['created_at']})")
        print(
            f"Model Registry: {package['ModelPackageGroupName']} version {package['ModelPackageVersion']}, "
            f"{package['ModelApprovalStatus']}"
        )

        step("dropping the held-out test images, and scenes of none of the classes, into inbox/")
        images = sorted((data / "seg_test" / "seg_test").rglob("*.jpg"))
        others = sorted((data / "other").rglob("*.jpg"))
        s3 = target.client("s3")
        bucket = cloud.outputs["DataBucketName"]
        inbox = [(p, f"inbox/{p.parent.name}/{p.name}") for p in images]
        inbox += [(p, f"inbox/{OTHER_FOLDER}/{p.parent.name}-{p.name}") for p in others]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda item: s3.upload_file(str(item[0]), bucket, item[1]), inbox))
        predictions = Predictions(cloud.outputs["PredictionsTableName"])

        with progress("classified") as classified:

            def recorded() -> list[dict[str, Any]] | None:
                items = list(predictions.all())
                classified(len(items), len(inbox))
                return items if len(items) >= len(inbox) else None

            records = client.wait_for("every prediction", recorded, 600)
        summary = summarise(records, len(images), len(others))
        report, _ = client.write_report(target, None, WORKDIR / "results")

        step("the API")
        sample = images[0]
        answer = target.api("POST", "/predictions", body=sample.read_bytes(), content_type="image/jpeg")
        print(
            f"POST /predictions {sample.parent.name}/{sample.name} -> {answer['label']} "
            f"({answer['confidence']:.1%}, {answer['latency_ms']} ms)"
        )
        board = target.api("GET", "/models")["items"]
        print("GET /models -> " + ", ".join(f"{m['name']} {m['state']} {m['accuracy']:.1%}" for m in board))
        costs = target.api("GET", "/costs")
        [model_cost] = [m for m in costs["by_model"] if m["model"] == job]
        print(
            f"GET /costs -> training ${model_cost['training_cost']:.4f} (as if on {request['instance_type']}), "
            f"serving {model_cost['predictions']} predictions ${model_cost['serving_cost']:.6f}, "
            f"${model_cost['cost_per_1000_predictions']:.4f} per 1,000 at {model['serverless_memory_mb']} MB"
        )

    step(f"done in {time.monotonic() - started:.0f} s")
    print(f"accuracy on the held-out images: {summary['accuracy']:.1%} ({summary['correct']}/{summary['total']})")
    print(
        f"answered unknown: {summary['unknown']} of the held-out images, {summary['other_unknown']} of the "
        f"{summary['other_total']} scenes of none of the classes"
    )
    print(f"training: {training['epochs']} epochs in {training['seconds']:.0f} s (budget {budget_s} s)")
    print(
        f"predictions recorded: {summary['records']} for {summary['total']} images "
        f"(lost {summary['lost']}, doubled {summary['doubled']}, failed {summary['failed']})"
    )
    print(f"report (leaderboard, confusion matrix, curves, mistakes): {report.relative_to(ROOT)}")
    print(f"function logs (Powertools JSON, EMF metrics): {(WORKDIR / 'cloud' / 'functions.log').relative_to(ROOT)}")
    print(
        "try it yourself: `make up` (or `.venv/bin/vista up`) in one terminal and open the web console\n"
        "it prints (http://127.0.0.1:<port>/: classify, predictions, models, training, batches), or in another\n"
        "  .venv/bin/vista predict photo.jpg          # or: vista dataset upload DIR, vista train, vista models\n"
        "  curl --aws-sigv4 aws:amz:us-east-1:execute-api --user local:local \\\n"
        "       -H 'Content-Type: image/jpeg' --data-binary @photo.jpg <API>/predictions"
    )
    (WORKDIR / "summary.json").write_text(json.dumps(summary | {"training": training}, indent=2))
    return 0 if summary["lost"] == summary["doubled"] == 0 else 1


def summarise(records: list[dict[str, Any]], total: int, other_total: int = 0) -> dict[str, Any]:
    """Accuracy against the true class (the inbox/<class>/ folder), per class, and latency; how many
    were answered "unknown", of those and of the scenes of none of the classes (inbox/other-kinds/)."""
    keys = Counter(r["key"] for r in records)
    others = [r for r in records if r["key"].split("/")[1] == OTHER_FOLDER]
    records = [r for r in records if r["key"].split("/")[1] != OTHER_FOLDER]
    classes = sorted({r["key"].split("/")[1] for r in records})
    ok = [r for r in records if r["status"] == "OK"]
    correct = sum(r["label"] == r["key"].split("/")[1] for r in ok)
    print(f"\n{'class':<12}{'images':>8}{'correct':>9}{'recall':>8}{'precision':>11}")
    for name in classes:
        actual = [r for r in ok if r["key"].split("/")[1] == name]
        predicted = [r for r in ok if r["label"] == name]
        hits = sum(r["label"] == name for r in actual)
        print(
            f"{name:<12}{len(actual):>8}{hits:>9}{hits / max(len(actual), 1):>8.1%}"
            f"{hits / max(len(predicted), 1):>11.1%}"
        )
    latencies = sorted(float(r["latency_ms"]) for r in ok)
    if latencies:
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        print(
            f"endpoint latency per image: p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
            f"max {latencies[-1]:.1f} ms"
        )
    return {
        "total": total,
        "records": len(records),
        "correct": correct,
        "accuracy": correct / max(total, 1),
        "unknown": sum(r["label"] == UNKNOWN for r in ok),
        "other_total": other_total,
        "other_unknown": sum(r.get("label") == UNKNOWN for r in others),
        "lost": total + other_total - len(keys),
        "doubled": sum(n - 1 for n in keys.values()),
        "failed": len(records) - len(ok),
        "latency_ms_p50": statistics.median(latencies) if latencies else None,
    }
