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
import urllib.request
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

    parameters = dict(item.split("=", 1) for item in args.parameter)
    cloud = LocalCloud(ROOT / ".vista" / "up", verbose=args.verbose, parameters=parameters)
    urls = cloud.start()
    print("Vista's local cloud is up (Ctrl-C stops it).")
    print(f"  AWS services (moto):  {urls['aws']}")
    print(f"  SageMaker (local):    {urls['sagemaker']}")
    print(f"  web console:          {urls['console']}  (no sign-in locally)")
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
            if job["source"] == source and created >= sent - 1 and not job.get("comparison"):  # not a member
                return job["name"]
        time.sleep(0.5)
    raise CommandError(f"the stack did not pick up {source} within {timeout_s:.0f} s")


def training_request(args: argparse.Namespace) -> dict[str, Any]:
    """A training request from the flags `vista train` and `vista compare` share."""
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
    return {
        "dataset": args.dataset,
        "architecture": getattr(args, "architecture", None),
        "hyperparameters": hyperparameters,
        "instance_type": args.instance_type,
        "spot": not args.on_demand,
    }


def validate_request(request: dict[str, Any]) -> None:
    """The stack's own validation, before anything is uploaded."""
    from vista_app.requests import InvalidRequest, parse_training_request

    try:
        parse_training_request(request)
    except InvalidRequest as error:
        raise CommandError(f"invalid training request: {error}") from None


def cmd_train(args: argparse.Namespace, target: Target) -> int:
    request = json.loads(Path(args.request).read_text()) if args.request else training_request(args)
    validate_request(request)
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


# The most a synchronous POST /predictions carries: API Gateway base64s the body into the function's
# event, which Lambda holds to 6 MB. A larger photo goes through POST /uploads (straight to S3).
SYNCHRONOUS_MAX_BYTES = 4 * 1024 * 1024


def predict_image(target: Target, path: Path, *, timeout_s: float = 180) -> dict[str, Any]:
    """One photo classified: in the request itself, or, too big for it, uploaded to S3 with the
    URL POST /uploads gives and its prediction polled until the inbox has classified it."""
    data = path.read_bytes()
    content_type = IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream")
    if len(data) <= SYNCHRONOUS_MAX_BYTES:
        return target.api("POST", "/predictions", body=data, content_type=content_type)
    if content_type not in ("image/jpeg", "image/png"):
        raise CommandError(f"{path}: a photo over {SYNCHRONOUS_MAX_BYTES:,} bytes must be a .jpg or .png")
    body = json.dumps({"content_type": content_type}).encode()
    upload = target.api("POST", "/uploads", body=body, content_type="application/json")
    put = urllib.request.Request(  # noqa: S310 (the stack's own presigned S3 URL)
        upload["upload"]["url"], data=data, method="PUT", headers=upload["upload"]["headers"]
    )
    with urllib.request.urlopen(put, timeout=300):  # noqa: S310 (the stack's own presigned S3 URL)
        pass
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return target.api("GET", upload["poll"])
        except CommandError as error:
            if ": 404 " not in str(error):
                raise
        time.sleep(1)
    raise CommandError(f"{path} was uploaded ({upload['key']}) but not classified within {timeout_s:.0f} s")


def cmd_predict(args: argparse.Namespace, target: Target) -> int:
    rows = []
    for image in args.images:
        path = Path(image)
        if not path.is_file():
            raise CommandError(f"{path} does not exist")
        rows.append({"image": str(path), **predict_image(target, path)})
    show(rows, ["image", "label", "confidence", "model", "latency_ms", "id"], args.json)
    return 0


def cmd_predictions(args: argparse.Namespace, target: Target) -> int:
    query = {"limit": args.limit, "review": "true" if args.review else None}
    page = target.api("GET", "/predictions", query=query)
    columns = ["id", "source", "status", "label", "confidence", "model", "feedback_label", "error"]
    show(page["items"], columns, args.json, page)
    return 0


LEADERBOARD = [
    "name",
    "state",
    "architecture",
    "accuracy",
    "macro_f1",
    "loss",
    "parameters",
    "training_seconds",
    "billable_seconds",
    "training_cost",
    "serving_latency_ms",
    "cost_per_1000_predictions",
]


def cmd_models(args: argparse.Namespace, target: Target) -> int:
    models = target.api("GET", "/models")["items"]
    show(models, LEADERBOARD, args.json, models)
    if not args.json:  # what is on its way to the endpoint, and why what failed failed, in full
        for model in models:
            if model["state"] == "promoting":
                print(f"{model['name']} promoting: serves once the endpoint has switched to it", file=sys.stderr)
            elif model["state"] == "failed":
                print(f"{model['name']} failed: {model.get('reason', 'no reason given')}", file=sys.stderr)
    return 0


TUNED_RANGES = {
    "learning_rate": {"min": 1e-5, "max": 1e-2, "scale": "log"},
    "dropout": {"min": 0.1, "max": 0.6},
    "l2": {"min": 1e-6, "max": 1e-2, "scale": "log"},
}


def cmd_compare(args: argparse.Namespace, target: Target) -> int:
    """One request, one job per architecture (each tuned with --tune), then their leaderboard."""
    request = training_request(args) | {"architectures": args.architectures.split(",")}
    request.pop("architecture")
    if args.tune:
        request["tuning"] = {
            "max_jobs": args.max_jobs,
            "max_parallel_jobs": min(args.max_parallel_jobs, args.max_jobs),
            "strategy": "Bayesian",
            "ranges": TUNED_RANGES,
        }
    validate_request(request)
    name = submit_training(target, request, args.name or time.strftime("compare-%Y%m%d-%H%M%S"))
    print(f"comparison {name} requested: {', '.join(request['architectures'])}", file=sys.stderr)
    comparison = wait_for_comparison(target, name, timeout_s=args.timeout)
    board = [m for m in target.api("GET", "/models")["items"] if m["name"] in comparison.get("models", [])]
    show(board, LEADERBOARD, args.json, {"comparison": comparison, "leaderboard": board})
    if comparison.get("report") and not args.json:
        print(f"report: {comparison['report']}  (or: vista report)")
    return 0 if comparison["status"] == "Completed" else 1


def wait_for_comparison(target: Target, name: str, *, timeout_s: float) -> dict[str, Any]:
    """Poll the comparison until every member job has ended, printing each member's changes."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        comparison = target.api("GET", f"/training-jobs/{name}")
        for member in comparison.get("members", []):
            job = target.api("GET", f"/training-jobs/{member}")
            state = job["status"] + (f" ({job['failure_reason']})" if job.get("failure_reason") else "")
            if seen.get(member) != state:
                seen[member] = state
                print(f"{time.strftime('%H:%M:%S')} {member} {job.get('architecture')}: {state}", file=sys.stderr)
        if comparison["status"] in TERMINAL:
            return comparison
        time.sleep(2)
    raise CommandError(f"gave up waiting for comparison {name}")


def cmd_report(args: argparse.Namespace, target: Target) -> int:
    path, models, pictures = write_report(target, args.model, Path(args.out))
    print(f"{path} ({models} model(s), {pictures} pictures beside it)")
    return 0


def write_report(target: Target, model: str | None, folder: Path) -> tuple[Path, int, int]:
    """A self-contained HTML page of one model, or of every model, with its PNGs beside it;
    returns its path and how many models and pictures it holds."""
    from vista_app.reports import PICTURES, build_report, read_outputs

    board = target.api("GET", "/models")["items"]
    focus = [m for m in board if m["name"] == model] if model else board
    if model and not focus:
        raise CommandError(f"no model named {model}")
    s3 = target.client("s3")
    outputs = {m["name"]: read_outputs(s3, m) for m in focus}
    jobs = {m["job"]: target.api("GET", f"/training-jobs/{m['job']}") for m in focus if m.get("job")}
    page = build_report(
        title=f"Vista report: {model or 'all models'}",
        leaderboard=board,
        focus=focus,
        outputs=outputs,
        tuning_jobs=[j for j in jobs.values() if j.get("trials")],
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text(page)
    pictures = 0
    for name, found in outputs.items():
        for picture in PICTURES:
            if picture in found:
                (folder / f"{name}-{picture}").write_bytes(found[picture])
                pictures += 1
    return folder / "report.html", len(focus), pictures


def cmd_costs(args: argparse.Namespace, target: Target) -> int:
    book = target.api("GET", "/costs")
    if args.json:
        print(json.dumps(book, indent=2))
        return 0
    prices = book["prices"]
    print(f"{book['currency']}, prices of {prices['as_of']} for {prices['region']} ({prices['source']})")
    for title, rows, columns in (
        ("by day", book["by_day"], ["day", "training_cost", "serving_cost", "total"]),
        (
            "by job",
            book["by_job"],
            ["job", "day", "kind", "instance_type", "billable_seconds", "on_demand_cost", "cost", "savings"],
        ),
        (
            "by model",
            book["by_model"],
            ["model", "training_cost", "predictions", "serving_cost", "cost_per_1000_predictions", "total"],
        ),
    ):
        print(f"\n{title}")
        show(rows, columns, False)
    print(f"\ntotal: {book['total']:.4f} {book['currency']}")
    return 0


def redrive(sqs: Any, dead_letter_url: str, queue_url: str) -> int:
    """Move every message of a dead-letter queue back to its queue; returns how many moved.
    Each is deleted from the dead-letter queue only once the queue has taken it."""
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return moved
        sent = sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
        )
        if sent.get("Failed"):
            raise CommandError(f"the queue refused {len(sent['Failed'])} message(s): {sent['Failed'][0]}")
        sqs.delete_message_batch(
            QueueUrl=dead_letter_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        moved += len(messages)


def cmd_redrive(args: argparse.Namespace, target: Target) -> int:
    moved = redrive(target.client("sqs"), target.output("InboxDeadLetterQueueUrl"), target.output("InboxQueueUrl"))
    print(f"{moved} message(s) moved from the inbox dead-letter queue back to the inbox queue")
    return 0


def cmd_feedback(args: argparse.Namespace, target: Target) -> int:
    body = json.dumps({"label": args.label}).encode()
    result = target.api("POST", f"/predictions/{args.prediction}/feedback", body=body, content_type="application/json")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    prediction = result["prediction"]
    verdict = "right" if prediction["correct"] else f"wrong (it said {prediction['label']})"
    print(f"{prediction['id']}: {args.label}; the model was {verdict}")
    if "rolling_accuracy" in result:
        print(
            f"{result['model']}: {result['rolling_accuracy']:.1%} right over its last {result['labelled']} "
            f"labelled predictions (window {result['window']})"
        )
    if result.get("retraining"):
        print(f"retraining: {result['retraining']['outcome']} {result['retraining'].get('request', '')}".rstrip())
    return 0


def cmd_promote(args: argparse.Namespace, target: Target) -> int:
    model = target.api("POST", f"/models/{args.name}/promote")
    show([model], ["name", "state", "accuracy", "endpoint_config", "reason"], args.json, model)
    if model["state"] == "promoting" and not args.json:
        print("promoting: it serves once the endpoint has switched to it (`vista models` shows when)", file=sys.stderr)
    return 0 if model["state"] in ("promoting", "champion") else 1


# ---------------------------------------------------------------------------- parser


def _parameter(item: str) -> str:
    if "=" not in item:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {item!r}")
    return item


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="vista", description="Train and serve image classifiers (local by default)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", help="a deployed stack's name (default: the local cloud of `vista up`)")
    common.add_argument("--region")
    common.add_argument("--profile")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--verbose", action="store_true")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", parents=[common], help="run the local cloud in the foreground")
    up.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=_parameter,
        help="a template parameter, as sam deploy --parameter-overrides (e.g. RetrainWindow=20)",
    )
    up.set_defaults(run=cmd_up)
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

    request_flags = argparse.ArgumentParser(add_help=False)
    request_flags.add_argument("--dataset", default="datasets/scenes")
    request_flags.add_argument("--epochs", type=int)
    request_flags.add_argument("--image-size", type=int)
    request_flags.add_argument("--batch-size", type=int)
    request_flags.add_argument("--learning-rate", type=float)
    request_flags.add_argument("--weights", choices=["imagenet", "none"])
    request_flags.add_argument("--instance-type", default="ml.g5.xlarge")
    request_flags.add_argument("--on-demand", action="store_true", help="no managed spot training")
    request_flags.add_argument("--name", help="request name (default: request-<time> or compare-<time>)")
    train = sub.add_parser(
        "train", parents=[common, request_flags], help="request a training job (writes jobs/<name>.json)"
    )
    train.add_argument("--request", help="a JSON training request file (instead of the flags)")
    train.add_argument("--architecture", default="fine_cnn")
    train.set_defaults(run=cmd_train, needs_target=True)

    compare = sub.add_parser(
        "compare", parents=[common, request_flags], help="train several architectures on one dataset; a leaderboard"
    )
    compare.add_argument("--architectures", default="base_cnn,fine_cnn,vgg16,resnet50,resnet101,resnet152")
    compare.add_argument("--tune", action="store_true", help="tune learning rate, dropout and L2 of each")
    compare.add_argument("--max-jobs", type=int, default=6, help="tuning trials per architecture")
    compare.add_argument("--max-parallel-jobs", type=int, default=2)
    compare.add_argument("--timeout", type=float, default=12 * 3600, help="seconds to wait for the leaderboard")
    compare.set_defaults(run=cmd_compare, needs_target=True)

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
    predictions.add_argument("--review", action="store_true", help="only low-confidence ones awaiting a label")
    predictions.set_defaults(run=cmd_predictions, needs_target=True)
    feedback = sub.add_parser("feedback", parents=[common], help="say what an image really shows")
    feedback.add_argument("prediction", help="the prediction's id")
    feedback.add_argument("label", help="the true class")
    feedback.set_defaults(run=cmd_feedback, needs_target=True)
    sub.add_parser("models", parents=[common], help="the leaderboard").set_defaults(run=cmd_models, needs_target=True)
    report = sub.add_parser("report", parents=[common], help="an HTML report of one model or of all")
    report.add_argument("model", nargs="?")
    report.add_argument("--out", default="vista-report", help="folder for report.html and its PNGs")
    report.set_defaults(run=cmd_report, needs_target=True)
    sub.add_parser("costs", parents=[common], help="the cost ledger by day, job and model").set_defaults(
        run=cmd_costs, needs_target=True
    )
    sub.add_parser(
        "redrive", parents=[common], help="send the inbox dead-letter queue's images back to be classified"
    ).set_defaults(run=cmd_redrive, needs_target=True)
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
