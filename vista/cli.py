"""The `vista` command: local mode by default, a deployed stack with `--stack NAME`.

Human-readable tables by default, `--json` for scripts; a failure is one line on stderr
and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from vista import client
from vista.project import ROOT, training_module
from vista.target import CommandError, Target, exports
from vista.terminal import progress, show, watch_job

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
    print("Everything lives in this process: stopping it forgets the buckets, tables and models.")
    print("Use it with the AWS CLI (aws s3 cp photo.jpg s3://<bucket>/inbox/, aws sagemaker-runtime ...):")
    print(f"  export {exports(urls)}")
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
        budget_s=args.training_budget_s,
        verbose=args.verbose,
    )


def cmd_dataset_synth(args: argparse.Namespace) -> int:
    training_module("synthetic").main(args.arguments)
    return 0


def cmd_dataset_upload(args: argparse.Namespace, target: Target) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder")
    counts = client.upload_dataset(
        target, folder, args.name or folder.name, progress=lambda done, total: progress(done, total, "uploading")
    )
    print(
        f"{counts['uploaded']} uploaded, {counts['unchanged']} unchanged: "
        f"s3://{target.output('DataBucketName')}/datasets/{args.name or folder.name}/"
    )
    return 0


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


def dry_run(target: Target, request: dict[str, Any], as_json: bool) -> int:
    """What the request would run and cost, and whether the stack's cap lets it start; starts nothing."""
    body = json.dumps(request).encode()
    answer = target.api("POST", "/training-jobs", body=body, content_type="application/json", query={"dry_run": "true"})
    if as_json:
        print(json.dumps(answer, indent=2))
        return 0 if answer["accepted"] else 1
    estimate = answer["estimate"]
    print(
        f"{answer['kind']}: {estimate['jobs']} job(s) on {estimate['instance_count']} x {estimate['instance_type']}, "
        f"at most {estimate['max_runtime_s']:,} s each"
    )
    if "max_cost" in estimate:
        typical = f"; typically ${estimate['typical_cost']:,.2f} with spot" if estimate["spot"] else ""
        print(f"estimate: at most ${estimate['max_cost']:,.2f} ({estimate['basis']}){typical}")
    else:
        print(f"estimate: none ({estimate['cost_note']})")
    print(f"cap: ${estimate['cap']:,.2f} a request" if estimate["cap"] else "cap: none")
    today = answer.get("budget")
    if today:
        print(f"budget today ({today['day']}, UTC): ${today['reserved']:,.2f} of ${today['cap']:,.2f} reserved")
    for warning in estimate["warnings"]:
        print(f"warning: {warning}")
    print("would start" if answer["accepted"] else f"would be refused: {answer['reason']}")
    return 0 if answer["accepted"] else 1


def read_request(path: str) -> dict[str, Any]:
    """A training request file, or CommandError saying what is wrong with it."""
    try:
        request = json.loads(Path(path).read_text())
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise CommandError(f"{path} is not JSON: {error}") from None
    if not isinstance(request, dict):
        raise CommandError(f"{path} holds JSON, but not an object (a training request is one)")
    return request


def cmd_train(args: argparse.Namespace, target: Target) -> int:
    request = read_request(args.request) if args.request else training_request(args)
    client.validate_request(request)
    if args.dry_run:
        return dry_run(target, request, args.json)
    name = client.submit_training(target, request, args.name or time.strftime("request-%Y%m%d-%H%M%S"))
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


def cmd_predict(args: argparse.Namespace, target: Target) -> int:
    rows = []
    for image in args.images:
        path = Path(image)
        if not path.is_file():
            raise CommandError(f"{path} does not exist")
        rows.append({"image": str(path), **client.predict_image(target, path)})
    show(rows, ["image", "label", "confidence", "model", "latency_ms", "id"], args.json)
    return 0


def cmd_predictions(args: argparse.Namespace, target: Target) -> int:
    query = {"limit": args.limit, "review": "true" if args.review else None}
    page = target.api("GET", "/predictions", query=query)
    columns = ["id", "source", "status", "label", "confidence", "model", "feedback_label", "error"]
    show(page["items"], columns, args.json, page)
    return 0


def cmd_models(args: argparse.Namespace, target: Target) -> int:
    board = target.api("GET", "/models")
    models = board["items"]
    show(models, [c["key"] for c in board["columns"]], args.json, models)
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
    client.validate_request(request)
    if args.dry_run:
        return dry_run(target, request, args.json)
    name = client.submit_training(target, request, args.name or time.strftime("compare-%Y%m%d-%H%M%S"))
    print(f"comparison {name} requested: {', '.join(request['architectures'])}", file=sys.stderr)
    for job in client.member_states(target, name, timeout_s=args.timeout):
        state = job["status"] + (f" ({job['failure_reason']})" if job.get("failure_reason") else "")
        print(f"{time.strftime('%H:%M:%S')} {job['name']} {job.get('architecture')}: {state}", file=sys.stderr)
    comparison = target.api("GET", f"/training-jobs/{name}")
    answer = target.api("GET", "/models")
    board = [m for m in answer["items"] if m["name"] in comparison.get("models", [])]
    show(board, [c["key"] for c in answer["columns"]], args.json, {"comparison": comparison, "leaderboard": board})
    if comparison.get("report") and not args.json:
        print(f"report: {comparison['report']}  (or: vista report)")
    return 0 if comparison["status"] == "Completed" else 1


def cmd_report(args: argparse.Namespace, target: Target) -> int:
    path, models, pictures = client.write_report(target, args.model, Path(args.out))
    print(f"{path} ({models} model(s), {pictures} pictures beside it)")
    return 0


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


def cmd_redrive(args: argparse.Namespace, target: Target) -> int:
    moved = client.redrive(target)
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
    body = json.dumps({"force": True}).encode() if args.force else None
    model = target.api("POST", f"/models/{args.name}/promote", body=body, content_type="application/json")
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
    demo.add_argument("--training-budget-s", type=int, default=240, help="no epoch ends past this (0: none)")
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
    request_flags.add_argument(
        "--dry-run", action="store_true", help="show the estimate and whether the cost cap lets it start; start nothing"
    )
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
    promote.add_argument(
        "--force",
        action="store_true",
        help="promote a model of other classes than the champion's (every answer changes)",
    )
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
