"""The `vista` command: local mode by default, a deployed stack with `--stack NAME`.

Human-readable tables by default, `--json` for scripts; a failure is one line on stderr
and a non-zero exit.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from vista.target import CommandError, Target

ROOT = Path(__file__).resolve().parent.parent
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
TERMINAL = ("Completed", "Failed", "Stopped")


def training_module(name: str) -> ModuleType:
    """A module of training_job/ (a folder of scripts SageMaker runs, not an installed package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "training_job" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- output


def show(rows: list[dict[str, Any]], columns: list[str], as_json: bool, raw: Any = None) -> None:
    if as_json:
        print(json.dumps(raw if raw is not None else rows, indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    return text if len(text) <= 70 else "..." + text[-67:]  # the end of a path or name says most


def progress(done: int, total: int, label: str) -> None:
    """A bar redrawn in place on a terminal; a line per quarter when stderr is a file or pipe."""
    width = 30
    filled = int(width * done / max(total, 1))
    bar = f"{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
    if sys.stderr.isatty():
        print(f"\r{bar}", end="\n" if done >= total else "", file=sys.stderr, flush=True)
    elif done in {0, total} or done * 4 // max(total, 1) != (done - 1) * 4 // max(total, 1):
        print(bar, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- commands


def cmd_up(args: argparse.Namespace) -> int:
    from vista.local.cloud import LocalCloud

    cloud = LocalCloud(ROOT / ".vista" / "up", verbose=args.verbose)
    urls = cloud.start()
    print("Vista's local cloud is up (Ctrl-C stops it).")
    print(f"  AWS services (moto):  {urls['aws']}")
    print(f"  SageMaker (local):    {urls['sagemaker']}")
    print(f"  REST API:             {urls['api']}")
    print(f"  data bucket:          s3://{cloud.outputs['DataBucketName']}")
    print(f"  function logs:        {cloud.workdir / 'functions.log'}")
    print("Use it with the AWS CLI:")
    print(
        f"  export AWS_ENDPOINT_URL={urls['aws']} AWS_ENDPOINT_URL_SAGEMAKER={urls['sagemaker']} "
        "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1"
    )
    stop = _wait_for_signal()
    stop.wait()
    print("stopping...", file=sys.stderr)
    cloud.stop()
    return 0


def _wait_for_signal() -> Any:
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_demo(args: argparse.Namespace) -> int:
    from vista.demo import run_demo

    return run_demo(
        train_per_class=args.train_per_class,
        test_per_class=args.test_per_class,
        epochs=args.epochs,
        image_size=args.image_size,
        verbose=args.verbose,
    )


def cmd_dataset_synth(args: argparse.Namespace) -> int:
    training_module("synthetic").main(args.arguments)
    return 0


def upload_dataset(target: Target, folder: Path, name: str, workers: int = 8) -> dict[str, int]:
    """Upload every image under `folder` to datasets/<name>/, in parallel, skipping files whose
    size and MD5 (the ETag of a single-part upload) match what is there already."""
    s3 = target.client("s3")
    bucket = target.output("DataBucketName")
    prefix = f"datasets/{name}/"
    existing = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        existing.update({o["Key"]: (o["Size"], o["ETag"].strip('"')) for o in page.get("Contents", [])})
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_TYPES)
    if not files:
        raise CommandError(f"no JPEG or PNG images under {folder}")
    todo = []
    for path in files:
        key = prefix + path.relative_to(folder).as_posix()
        data_size = path.stat().st_size
        known = existing.get(key)
        if known and known[0] == data_size and known[1] == hashlib.md5(path.read_bytes()).hexdigest():  # noqa: S324
            continue
        todo.append((path, key))
    done = 0
    progress(0, len(todo), "uploading")

    def put(item: tuple[Path, str]) -> None:
        s3.upload_file(str(item[0]), bucket, item[1], ExtraArgs={"ContentType": IMAGE_TYPES[item[0].suffix.lower()]})

    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(put, todo):
            done += 1
            if done % 10 == 0 or done == len(todo):
                progress(done, len(todo), "uploading")
    return {"uploaded": len(todo), "unchanged": len(files) - len(todo)}


def cmd_dataset_upload(args: argparse.Namespace, target: Target) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder")
    counts = upload_dataset(target, folder, args.name or folder.name)
    print(
        f"{counts['uploaded']} uploaded, {counts['unchanged']} unchanged: "
        f"s3://{target.output('DataBucketName')}/datasets/{args.name or folder.name}/"
    )
    return 0


def submit_training(target: Target, request: dict[str, Any], request_name: str, timeout_s: float = 60) -> str:
    """Drop a training request into jobs/ (the way S3 users train) and wait for the stack to take
    it; returns the job's name (its Jobs record names the request as its source)."""
    bucket = target.output("DataBucketName")
    key = f"jobs/{request_name}.json"
    sent = time.time()
    target.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(request).encode(), ContentType="application/json"
    )
    source = f"s3://{bucket}/{key}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for job in target.api("GET", "/training-jobs", query={"limit": 20})["items"]:
            created = datetime.fromisoformat(job["created_at"]).timestamp()
            if job["source"] == source and created >= sent - 1:
                return job["name"]
        time.sleep(0.5)
    raise CommandError(f"the stack did not pick up {source} within {timeout_s:.0f} s")


def cmd_train(args: argparse.Namespace, target: Target) -> int:
    from vista_app.requests import InvalidRequest, parse_training_request

    if args.request:
        request = json.loads(Path(args.request).read_text())
    else:
        hyperparameters = {
            k: v
            for k, v in {
                "epochs": args.epochs,
                "image_size": args.image_size,
                "batch_size": args.batch_size,
                "learning_rate": args.learning_rate,
                "weights": args.weights,
            }.items()
            if v is not None
        }
        request = {
            "dataset": args.dataset,
            "architecture": args.architecture,
            "hyperparameters": hyperparameters,
            "instance_type": args.instance_type,
            "spot": not args.on_demand,
        }
    try:
        parse_training_request(request)  # the stack's own validation, before anything is uploaded
    except InvalidRequest as error:
        raise CommandError(f"invalid training request: {error}") from None
    name = submit_training(target, request, args.name or time.strftime("request-%Y%m%d-%H%M%S"))
    if args.json:
        print(json.dumps({"job": name}))
    else:
        print(f"training job {name} requested; follow it with: vista jobs watch {name}")
    return 0


def cmd_jobs(args: argparse.Namespace, target: Target) -> int:
    if args.watch:
        return watch_job(target, args.watch, as_json=args.json)
    page = target.api("GET", "/training-jobs", query={"limit": args.limit})
    show(page["items"], ["name", "status", "kind", "architecture", "created_at", "failure_reason"], args.json, page)
    return 0


def watch_job(target: Target, name: str, *, as_json: bool = False, timeout_s: float = 3 * 3600, out: Any = None) -> int:
    """Follow a job until it ends: status changes and each new epoch's metrics as they come."""
    out = out or sys.stdout
    sagemaker = target.client("sagemaker")
    seen: tuple = ()
    deadline = time.monotonic() + timeout_s
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            job = target.api("GET", f"/training-jobs/{name}")
        except CommandError as error:
            if " 404 " not in str(error):
                raise
            job = {"name": name, "status": "Requested"}
        metrics: dict[str, float] = {}
        if job.get("kind", "training") == "training" and job["status"] not in ("Requested", "Starting", "Failed"):
            try:
                described = sagemaker.describe_training_job(TrainingJobName=name)
                metrics = {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])}
                job["secondary_status"] = described.get("SecondaryStatus")
            except Exception:  # noqa: S110 (live metrics are a nicety; the Jobs record is the answer)
                pass
        state = (job["status"], job.get("secondary_status"), metrics.get("epoch"))
        if state != seen:
            seen = state
            line = {"job": name, "status": job["status"], "detail": job.get("secondary_status"), **metrics}
            if as_json:
                print(json.dumps(line), file=out, flush=True)
            else:
                shown = " ".join(
                    f"{k}={v:.4g}"
                    for k, v in metrics.items()
                    if k in ("epoch", "train_accuracy", "val_accuracy", "val_loss", "test_accuracy")
                )
                print(
                    f"{time.strftime('%H:%M:%S')} {name} {job['status']}"
                    f"{' / ' + job['secondary_status'] if job.get('secondary_status') else ''} {shown}".rstrip(),
                    file=out,
                    flush=True,
                )
        if job["status"] in TERMINAL:
            if job["status"] != "Completed":
                print(f"{name} {job['status']}: {job.get('failure_reason', 'no reason given')}", file=out)
                return 1
            return 0
        time.sleep(2)
    raise CommandError(f"gave up waiting for {name} (still {job.get('status')})")


def cmd_predict(args: argparse.Namespace, target: Target) -> int:
    rows = []
    for image in args.images:
        path = Path(image)
        if not path.is_file():
            raise CommandError(f"{path} does not exist")
        content_type = IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream")
        answer = target.api("POST", "/predictions", body=path.read_bytes(), content_type=content_type)
        rows.append({"image": str(path), **answer})
    show(rows, ["image", "label", "confidence", "model", "latency_ms", "id"], args.json)
    return 0


def cmd_predictions(args: argparse.Namespace, target: Target) -> int:
    page = target.api("GET", "/predictions", query={"limit": args.limit})
    show(page["items"], ["id", "source", "status", "label", "confidence", "model", "error"], args.json, page)
    return 0


def cmd_models(args: argparse.Namespace, target: Target) -> int:
    models = target.api("GET", "/models")["items"]
    show(models, ["name", "state", "architecture", "accuracy", "training_seconds", "created_at"], args.json, models)
    return 0


def cmd_promote(args: argparse.Namespace, target: Target) -> int:
    model = target.api("POST", f"/models/{args.name}/promote")
    show([model], ["name", "state", "accuracy", "endpoint"], args.json, model)
    return 0


# ---------------------------------------------------------------------------- parser


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="vista", description="Train and serve image classifiers (local by default)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", help="a deployed stack's name (default: the local cloud of `vista up`)")
    common.add_argument("--region")
    common.add_argument("--profile")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--verbose", action="store_true")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("up", parents=[common], help="run the local cloud in the foreground").set_defaults(run=cmd_up)
    demo = sub.add_parser("demo", parents=[common], help="the end-to-end demo on the local cloud")
    demo.add_argument("--train-per-class", type=int, default=80)
    demo.add_argument("--test-per-class", type=int, default=20)
    demo.add_argument("--epochs", type=int, default=30)
    demo.add_argument("--image-size", type=int, default=96)
    demo.set_defaults(run=cmd_demo)

    dataset = sub.add_parser("dataset", help="make or upload a labelled image dataset")
    dataset_sub = dataset.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    synth = dataset_sub.add_parser(
        "synth",
        add_help=False,
        help="generate the synthetic scene dataset "
        "(training_job/synthetic.py; `vista dataset synth -h` for its options)",
    )
    synth.set_defaults(passes_arguments=True)
    synth.set_defaults(run=cmd_dataset_synth)
    upload = dataset_sub.add_parser("upload", parents=[common], help="upload DIR to datasets/<name>/")
    upload.add_argument("dir")
    upload.add_argument("--name", help="dataset name (default: the folder's name)")
    upload.set_defaults(run=cmd_dataset_upload, needs_target=True)

    train = sub.add_parser("train", parents=[common], help="request a training job (writes jobs/<name>.json)")
    train.add_argument("--request", help="a JSON training request file (instead of the flags below)")
    train.add_argument("--dataset", default="datasets/scenes")
    train.add_argument("--architecture", default="fine_cnn")
    train.add_argument("--epochs", type=int)
    train.add_argument("--image-size", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--weights", choices=["imagenet", "none"])
    train.add_argument("--instance-type", default="ml.g5.xlarge")
    train.add_argument("--on-demand", action="store_true", help="no managed spot training")
    train.add_argument("--name", help="request name (default: request-<time>)")
    train.set_defaults(run=cmd_train, needs_target=True)

    jobs = sub.add_parser("jobs", parents=[common], help="training jobs; `jobs watch NAME` follows one")
    jobs.add_argument("watch_word", nargs="?", choices=["watch"], help=argparse.SUPPRESS)
    jobs.add_argument("watch", nargs="?", metavar="NAME")
    jobs.add_argument("--limit", type=int, default=25)
    jobs.set_defaults(run=cmd_jobs, needs_target=True)

    predict = sub.add_parser("predict", parents=[common], help="classify images through the API")
    predict.add_argument("images", nargs="+")
    predict.set_defaults(run=cmd_predict, needs_target=True)
    predictions = sub.add_parser("predictions", parents=[common], help="recent predictions")
    predictions.add_argument("--limit", type=int, default=25)
    predictions.set_defaults(run=cmd_predictions, needs_target=True)
    sub.add_parser("models", parents=[common], help="the leaderboard").set_defaults(run=cmd_models, needs_target=True)
    promote = sub.add_parser("promote", parents=[common], help="serve a model now")
    promote.add_argument("name")
    promote.set_defaults(run=cmd_promote, needs_target=True)
    return root


def main(argv: list[str] | None = None) -> int:
    command = parser()
    args, rest = command.parse_known_args(argv)
    if getattr(args, "passes_arguments", False):
        args.arguments = rest
    elif rest:
        command.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "watch_word", None) and not args.watch:
        print("vista: error: jobs watch needs a job name", file=sys.stderr)
        return 2
    try:
        if getattr(args, "needs_target", False):
            target = Target.stack(args.stack, args.region, args.profile) if args.stack else Target.local()
            return args.run(args, target)
        return args.run(args)
    except CommandError as error:
        print(f"vista: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vista: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
