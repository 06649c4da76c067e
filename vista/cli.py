"""The `vista` command, on typer: local mode by default, a deployed stack with `--stack NAME`.

Tables by default, `--json` for scripts. A user's mistake (CommandError) is one line on stderr and
exit 1, caught in one place (Commands.invoke); a misused flag is typer's usage error and exit 2.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

import vista.target
from vista import client
from vista.errors import CommandError
from vista.project import checkout, training_module
from vista.target import Target, exports, running_cloud
from vista.terminal import columns, job_line, progress, show, stderr, watch_job
from vista_app.exports import FORMATS as EXPORT_FORMATS


class Commands(TyperGroup):
    """Every command's CommandError as one line and exit 1; Ctrl-C as exit 130."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CommandError as error:
            print(f"vista: error: {error}", file=sys.stderr)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            print("vista: interrupted", file=sys.stderr)
            raise typer.Exit(130) from None


app = typer.Typer(
    name="vista",
    cls=Commands,
    help="Train and serve image classifiers: on the local cloud of `vista up`, or a deployed stack (--stack).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
dataset_app = typer.Typer(help="Make or upload a labelled image dataset.", no_args_is_help=True)
jobs_app = typer.Typer(help="Training jobs: list them (the default), follow one, stop one.")
models_app = typer.Typer(help="The leaderboard (the default), or the champions' history.")
app.add_typer(dataset_app, name="dataset")
app.add_typer(jobs_app, name="jobs")
app.add_typer(models_app, name="models")

Json = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@dataclass
class Where:
    """The stack the command talks to, from the options before the command's name."""

    stack: str | None
    region: str | None
    profile: str | None
    verbose: bool

    def target(self) -> Target:
        return Target.stack(self.stack, self.region, self.profile) if self.stack else Target.local()


def where(ctx: typer.Context) -> Where:
    return ctx.find_object(Where) or Where(None, None, None, False)


@app.callback()
def root(
    ctx: typer.Context,
    stack: Annotated[
        str | None,
        typer.Option(envvar="VISTA_STACK", help="a deployed stack's name (default: the local cloud of `vista up`)"),
    ] = None,
    region: Annotated[str | None, typer.Option(help="the stack's region (default: the AWS CLI's)")] = None,
    profile: Annotated[str | None, typer.Option(help="an AWS CLI profile")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log what the command does")] = False,
) -> None:
    ctx.obj = Where(stack, region, profile, verbose)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


# ---------------------------------------------------------------------------- local mode


def parameter_overrides(items: list[str]) -> dict[str, str]:
    pairs = [item.partition("=") for item in items]
    wrong = [item for item, (_, equals, _) in zip(items, pairs, strict=True) if not equals]
    if wrong:
        raise CommandError(f"--parameter takes NAME=VALUE, not {wrong[0]!r}")
    return {name: value for name, _, value in pairs}


@app.command()
def up(
    ctx: typer.Context,
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            metavar="NAME=VALUE",
            help="a template parameter, as sam deploy --parameter-overrides takes it (e.g. RetrainWindow=20)",
        ),
    ] = None,
    port: Annotated[
        int,
        typer.Option(min=0, max=65532, help="AWS's services on this port, SageMaker, the API and the console after it"),
    ] = 0,
) -> None:
    """Run the local cloud in the foreground (Ctrl-C stops it; everything it holds goes with it)."""
    import signal
    import threading

    root_folder = checkout("vista up")  # before importing the emulator, which an installed vista lacks
    from vista import template
    from vista.local.cloud import LocalCloud, PortInUse

    running = running_cloud()
    if running:
        raise CommandError(
            f"a local cloud already runs from this checkout (pid {running['pid']}, API {running['urls']['api']}): "
            "use it, or stop it (Ctrl-C) first"
        )
    overrides = parameter_overrides(parameter or [])
    try:
        cloud = LocalCloud(
            root_folder / ".vista" / "up",
            verbose=where(ctx).verbose,
            parameters=overrides,
            port=port,
            announce=vista.target.STATE_FILE,
        )
        urls = cloud.start()
    except (template.InvalidParameter, PortInUse) as error:
        raise CommandError(str(error)) from None
    print("Vista's local cloud is up (Ctrl-C stops it).")
    print(f"  AWS services (moto):  {urls['aws']}")
    print(f"  SageMaker (local):    {urls['sagemaker']}")
    print(f"  web console:          {urls['console']}  (no sign-in locally)")
    print(f"  REST API:             {urls['api']}")
    print(f"  data bucket:          s3://{cloud.outputs['DataBucketName']}")
    print(f"  function logs:        {cloud.workdir / 'functions.log'}")
    print("Everything lives in this process: stopping it forgets the buckets, tables and models.")
    print("Use it with the AWS CLI (aws s3 cp photo.jpg s3://<bucket>/inbox/, aws sagemaker-runtime ...):")
    print(f"  export {exports(urls)}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    print("stopping...", file=sys.stderr)
    cloud.stop()


@app.command()
def demo(
    ctx: typer.Context,
    train_per_class: int = 80,
    test_per_class: int = 20,
    epochs: int = 30,
    image_size: int = 96,
    training_budget_s: Annotated[int, typer.Option(help="no epoch ends past this (0: none)")] = 240,
) -> None:
    """The end-to-end demo on a local cloud of its own: train, serve, classify, report."""
    checkout("the demo")
    from vista.demo import run_demo

    code = run_demo(
        train_per_class=train_per_class,
        test_per_class=test_per_class,
        epochs=epochs,
        image_size=image_size,
        budget_s=training_budget_s,
        verbose=where(ctx).verbose,
    )
    raise typer.Exit(code)


# ---------------------------------------------------------------------------- datasets and training


@dataset_app.command(
    "synth",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def dataset_synth(ctx: typer.Context) -> None:
    """Generate the synthetic scene dataset (training_job/synthetic.py; `vista dataset synth -h`)."""
    checkout("vista dataset synth")
    training_module("synthetic").main(ctx.args)


@dataset_app.command("upload")
def dataset_upload(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="train/<class>/*.jpg and test/<class>/*.jpg, or <class>/*.jpg")],
    name: Annotated[str | None, typer.Option(help="the dataset's name (default: the folder's)")] = None,
) -> None:
    """Upload a folder of labelled images to datasets/<name>/ (unchanged files are skipped)."""
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder")
    target = where(ctx).target()
    with progress("uploading") as shown:
        counts = client.upload_dataset(target, folder, name or folder.name, progress=shown)
    bucket = target.output("DataBucketName")
    print(
        f"{counts['uploaded']} uploaded, {counts['unchanged']} unchanged: s3://{bucket}/datasets/{name or folder.name}/"
    )


class Weights(StrEnum):
    imagenet = "imagenet"
    none = "none"


@dataclass
class RequestFlags:
    """What `vista train` and `vista compare` ask of a training request."""

    dataset: str
    epochs: int | None
    image_size: int | None
    batch_size: int | None
    learning_rate: float | None
    weights: Weights | None
    instance_type: str
    on_demand: bool

    def request(self, **more: Any) -> dict[str, Any]:
        hyperparameters = {
            "epochs": self.epochs,
            "image_size": self.image_size,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "weights": self.weights.value if self.weights else None,
        }
        return {
            "dataset": self.dataset,
            "hyperparameters": {k: v for k, v in hyperparameters.items() if v is not None},
            "instance_type": self.instance_type,
            "spot": not self.on_demand,
            **more,
        }


Dataset = Annotated[str, typer.Option(help="the dataset's prefix in the data bucket")]
Epochs = Annotated[int | None, typer.Option(min=1)]
ImageSize = Annotated[int | None, typer.Option(min=32)]
BatchSize = Annotated[int | None, typer.Option(min=1)]
LearningRate = Annotated[float | None, typer.Option(min=0)]
WeightsOption = Annotated[Weights | None, typer.Option(help="start from ImageNet's weights, or none")]
InstanceType = Annotated[str, typer.Option(help="a SageMaker training instance type")]
OnDemand = Annotated[bool, typer.Option("--on-demand", help="no managed spot training")]
RequestName = Annotated[str | None, typer.Option("--name", help="the request's name (default: one with the time)")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="show the estimate and whether the cost caps let it start; start nothing")
]


def read_request(path: Path) -> dict[str, Any]:
    """A training request file, or CommandError saying what is wrong with it."""
    try:
        request = json.loads(path.read_text())
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise CommandError(f"{path} is not JSON: {error}") from None
    if not isinstance(request, dict):
        raise CommandError(f"{path} holds JSON, but not an object (a training request is one)")
    return request


def dry_run(target: Target, request: dict[str, Any]) -> dict[str, Any]:
    """The stack's answer to the request as a dry run: what it would run and cost, and whether the
    caps let it start; a request the stack would refuse (a dataset it cannot read) is CommandError."""
    body = json.dumps(request).encode()
    return target.api("POST", "/training-jobs", body=body, content_type="application/json", query={"dry_run": "true"})


def print_estimate(answer: dict[str, Any]) -> None:
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


def submit(target: Target, request: dict[str, Any], name: str, *, as_dry_run: bool, as_json: bool) -> str | None:
    """The request checked here and by the stack (its dataset, its cost) and, unless a dry run, dropped
    into jobs/; returns the job's name (None after a dry run)."""
    client.validate_request(request)
    answer = dry_run(target, request)
    if as_dry_run:
        if as_json:
            print(json.dumps(answer, indent=2))
        else:
            print_estimate(answer)
        raise typer.Exit(0 if answer["accepted"] else 1)
    if not answer["accepted"]:
        raise CommandError(f"not started: {answer['reason']}")
    return client.submit_training(target, request, name)


def follow(target: Target, job: str, *, as_json: bool) -> None:
    """`jobs watch`, with Ctrl-C saying that the job goes on."""
    try:
        code = watch_job(target, job, as_json=as_json, must_exist=False)
    except KeyboardInterrupt:
        print(f"stopped watching: {job} goes on (`vista jobs stop {job}` stops it)", file=sys.stderr)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


@app.command()
def train(
    ctx: typer.Context,
    dataset: Dataset = "datasets/scenes",
    architecture: str = "fine_cnn",
    epochs: Epochs = None,
    image_size: ImageSize = None,
    batch_size: BatchSize = None,
    learning_rate: LearningRate = None,
    weights: WeightsOption = None,
    instance_type: InstanceType = "ml.g5.xlarge",
    on_demand: OnDemand = False,
    name: RequestName = None,
    request: Annotated[Path | None, typer.Option(help="a JSON training request file (instead of the flags)")] = None,
    dry_run: DryRun = False,
    watch: Annotated[bool, typer.Option("--watch", help="follow the job until it ends (as `jobs watch`)")] = False,
    as_json: Json = False,
) -> None:
    """Request a training job: writes jobs/<name>.json, which the stack starts."""
    flags = RequestFlags(dataset, epochs, image_size, batch_size, learning_rate, weights, instance_type, on_demand)
    wanted = read_request(request) if request else flags.request(architecture=architecture)
    target = where(ctx).target()
    job = submit(target, wanted, name or time.strftime("request-%Y%m%d-%H%M%S"), as_dry_run=dry_run, as_json=as_json)
    assert job
    if as_json and not watch:
        print(json.dumps({"job": job}))
    elif not as_json:
        print(f"training job {job} requested; follow it with: vista jobs watch {job}", file=sys.stderr)
    if watch:
        follow(target, job, as_json=as_json)


TUNED_RANGES = {
    "learning_rate": {"min": 1e-5, "max": 1e-2, "scale": "log"},
    "dropout": {"min": 0.1, "max": 0.6},
    "l2": {"min": 1e-6, "max": 1e-2, "scale": "log"},
}


def parse_sizes(text: str) -> list[int]:
    try:
        return [int(size) for size in text.split(",")]
    except ValueError:
        raise CommandError(f"--image-sizes takes whole numbers separated by commas, not {text!r}") from None


@app.command()
def compare(
    ctx: typer.Context,
    dataset: Dataset = "datasets/scenes",
    architectures: str = "base_cnn,fine_cnn,vgg16,resnet50,resnet101,resnet152",
    tune: Annotated[bool, typer.Option("--tune", help="tune learning rate, dropout and L2 of each")] = False,
    max_jobs: Annotated[int, typer.Option(min=1, help="tuning trials per architecture")] = 6,
    max_parallel_jobs: Annotated[int, typer.Option(min=1)] = 2,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the leaderboard")] = 12 * 3600,
    image_sizes: Annotated[
        str | None,
        typer.Option(
            help="input sizes each architecture tries, e.g. 150,224 (a tuned categorical; see docs/training.md)"
        ),
    ] = None,
    epochs: Epochs = None,
    image_size: ImageSize = None,
    batch_size: BatchSize = None,
    learning_rate: LearningRate = None,
    weights: WeightsOption = None,
    instance_type: InstanceType = "ml.g5.xlarge",
    on_demand: OnDemand = False,
    name: RequestName = None,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Train several architectures on one dataset (each tuned with --tune); then their leaderboard."""
    flags = RequestFlags(dataset, epochs, image_size, batch_size, learning_rate, weights, instance_type, on_demand)
    wanted = flags.request(architectures=architectures.split(","))
    sizes = {"image_size": parse_sizes(image_sizes)} if image_sizes else {}
    if sizes and image_size:
        raise CommandError("give --image-size or --image-sizes, not both")
    if tune:
        wanted["tuning"] = {
            "max_jobs": max_jobs,
            "max_parallel_jobs": min(max_parallel_jobs, max_jobs),
            "strategy": "Bayesian",
            "ranges": TUNED_RANGES | sizes,
        }
    elif sizes:  # each size once for each architecture
        wanted["tuning"] = {"strategy": "Grid", "max_parallel_jobs": max_parallel_jobs, "ranges": sizes}
    target = where(ctx).target()
    job = submit(target, wanted, name or time.strftime("compare-%Y%m%d-%H%M%S"), as_dry_run=dry_run, as_json=as_json)
    assert job
    print(f"comparison {job} requested: {architectures}", file=sys.stderr)
    for member in client.member_states(target, job, timeout_s=timeout):
        state = member["status"] + (f" ({member['failure_reason']})" if member.get("failure_reason") else "")
        print(f"{time.strftime('%H:%M:%S')} {member['name']} {member.get('architecture')}: {state}", file=sys.stderr)
    comparison = target.api("GET", f"/training-jobs/{job}")
    answer = target.api("GET", "/models")
    board = [m for m in answer["items"] if m["name"] in comparison.get("models", [])]
    shown = [(c["key"], c["title"], c["unit"]) for c in answer["columns"]]
    show(board, shown, as_json, {"comparison": comparison, "leaderboard": board})
    if comparison.get("report") and not as_json:
        print(f"report: {comparison['report']}  (or: vista report)")
    raise typer.Exit(0 if comparison["status"] == "Completed" else 1)


# ---------------------------------------------------------------------------- jobs


JobName = Annotated[str, typer.Argument(metavar="NAME", help="the job's name (`vista jobs` lists them)")]


@jobs_app.callback(invoke_without_command=True)
def jobs(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1, max=100)] = 25, as_json: Json = False) -> None:
    """Training jobs, newest first; `jobs watch NAME` follows one, `jobs stop NAME` stops one."""
    if ctx.invoked_subcommand:
        return
    page = where(ctx).target().api("GET", "/training-jobs", query={"limit": limit})
    shown = columns("name", "status", "kind", "architecture", "created_at", "source", "failure_reason")
    show(page["items"], [(k, "request" if k == "source" else t, u) for k, t, u in shown], as_json, page)


@jobs_app.command("watch")
def jobs_watch(ctx: typer.Context, name: JobName, as_json: Json = False) -> None:
    """Follow a job until it ends: a line each time its status or epoch changes."""
    target = where(ctx).target()
    try:
        code = watch_job(target, name, as_json=as_json)
    except KeyboardInterrupt:
        print(f"stopped watching: {name} goes on (`vista jobs stop {name}` stops it)", file=sys.stderr)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


@jobs_app.command("stop")
def jobs_stop(ctx: typer.Context, name: JobName) -> None:
    """Stop a job (every job of a comparison): SageMaker ends it Stopped, its time so far billed."""
    for stopped in client.stop_job(where(ctx).target(), name):
        print(f"{stopped}: stopping")


# ---------------------------------------------------------------------------- predictions and models


@app.command()
def predict(
    ctx: typer.Context,
    images: Annotated[list[Path], typer.Argument(help="photos, or folders of them")],
    as_json: Json = False,
) -> None:
    """Classify photos through the API (a large one through S3)."""
    target = where(ctx).target()
    answers = [{"image": str(path), **client.predict_image(target, path)} for path in client.image_files(images)]
    # An answer under its class's threshold is "unknown": beside it, what the model would have said.
    rows = [
        a | {"best_guess": f"{a['best_guess']['label']} {a['best_guess']['probability']:.1%}"}
        if a.get("best_guess")
        else a
        for a in answers
    ]
    show(rows, columns("image", "label", "confidence", "best_guess", "model", "latency_ms", "id"), as_json, answers)


@app.command("classify-folder")
def classify_folder(
    ctx: typer.Context,
    folder: Annotated[str, typer.Argument(help="s3://<data bucket>/<folder>/, or <folder>/ of the data bucket")],
    model: Annotated[str, typer.Option(help="a model's name, or champion")] = "champion",
    instance_type: Annotated[str, typer.Option(help="what the batch runs on")] = "ml.m5.xlarge",
    instance_count: Annotated[int, typer.Option(min=1, max=10)] = 1,
    watch: Annotated[bool, typer.Option(help="follow the batch until it ends")] = True,
    as_json: Json = False,
) -> None:
    """Classify every image of a folder as one batch (a Transform job): a record an image, one results file."""
    target = where(ctx).target()
    options = {"model": model, "instance_type": instance_type, "instance_count": instance_count}
    batch = client.submit_batch(target, folder, **options)
    if not watch:
        show([batch], columns("name", "status", "request"), as_json)
        return
    with progress(f"{batch['name']}") as told:
        ended = client.wait_for_batch(target, batch["name"], told)
    counts = ended.get("counts", {})
    row = {
        "name": ended["name"],
        "status": ended["status"],
        **counts,
        "cost": ended.get("cost"),
        "results": ended.get("results"),
    }
    show(
        [row],
        columns("name", "status", "objects", "answered", "failed", "refused", "cost", "results"),
        as_json,
        raw=ended,
    )
    if ended["status"] != "Completed":
        raise CommandError(f"batch {ended['name']} {ended['status']}: {ended.get('failure_reason', 'no reason given')}")


@app.command()
def predictions(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 25,
    review: Annotated[bool, typer.Option("--review", help="only low-confidence ones awaiting a label")] = False,
    as_json: Json = False,
) -> None:
    """Recent predictions, newest first."""
    query = {"limit": limit, "review": "true" if review else None}
    page = where(ctx).target().api("GET", "/predictions", query=query)
    shown = columns("id", "source", "status", "label", "confidence", "model", "feedback_label", "detail")
    rows = [p | {"detail": p.get("error") or p.get("reason")} for p in page["items"]]  # why FAILED, or WAITING
    show(rows, shown, as_json, page)


@app.command()
def feedback(
    ctx: typer.Context,
    prediction: Annotated[str, typer.Argument(help="the prediction's id")],
    label: Annotated[str, typer.Argument(help="the class the photo really shows")],
    as_json: Json = False,
) -> None:
    """Say what a photo really shows: the model's rolling accuracy, and retraining when it falls."""
    body = json.dumps({"label": label}).encode()
    result = (
        where(ctx)
        .target()
        .api("POST", f"/predictions/{prediction}/feedback", body=body, content_type="application/json")
    )
    if as_json:
        print(json.dumps(result, indent=2))
        return
    said = result["prediction"]
    verdict = "right" if said["correct"] else f"wrong (it said {said['label']})"
    print(f"{said['id']}: {label}; the model was {verdict}")
    if "rolling_accuracy" in result:
        print(
            f"{result['model']}: {result['rolling_accuracy']:.1%} right over its last {result['labelled']} "
            f"labelled predictions (window {result['window']})"
        )
    if result.get("retraining"):
        print(f"retraining: {result['retraining']['outcome']} {result['retraining'].get('request', '')}".rstrip())


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context, as_json: Json = False) -> None:
    """The leaderboard: every model, best test accuracy first; `models history` the champions."""
    if ctx.invoked_subcommand:
        return
    board = where(ctx).target().api("GET", "/models")
    shown = [(c["key"], c["title"], c["unit"]) for c in board["columns"]]
    show(board["items"], shown, as_json, board["items"])
    if not as_json:  # what the figure is; what is on its way to the endpoint, and why what failed or waits did so
        if board["items"]:
            print(board["note"], file=sys.stderr)
        for model in board["items"]:
            if model["state"] == "promoting":
                print(f"{model['name']} promoting: serves once the endpoint has switched to it", file=sys.stderr)
            elif model["state"] in ("failed", "candidate") and model.get("reason"):
                print(f"{model['name']} {model['state']}: {model['reason']}", file=sys.stderr)


@app.command()
def promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="the model's name (`vista models` lists them)")],
    force: Annotated[
        bool,
        typer.Option("--force", help="promote a model of other classes than the champion's (every answer changes)"),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="promote a model that scored below the champion")] = False,
    as_json: Json = False,
) -> None:
    """Serve a model now, whatever the gate decided."""
    target = where(ctx).target()
    warning = client.promotion_warning(target.api("GET", "/models")["items"], name)
    if warning and not yes:
        if not sys.stdin.isatty():
            raise CommandError(f"{warning}; pass --yes to promote it anyway")
        stderr().print(f"warning: {warning}")
        typer.confirm("promote it anyway?", abort=True, err=True)
    body = json.dumps({"force": True}).encode() if force else None
    model = target.api("POST", f"/models/{name}/promote", body=body, content_type="application/json")
    show([model], columns("name", "state", "accuracy", "endpoint_config", "reason"), as_json, model)
    if model["state"] == "promoting" and not as_json:
        print("promoting: it serves once the endpoint has switched to it (`vista models` shows when)", file=sys.stderr)
    raise typer.Exit(0 if model["state"] in ("promoting", "champion") else 1)


@models_app.command("history")
def models_history(
    ctx: typer.Context, limit: Annotated[int, typer.Option(min=1, max=100)] = 25, as_json: Json = False
) -> None:
    """Every change of champion, newest first: when, from, to, why, who; and what the registry says."""
    page = where(ctx).target().api("GET", "/models/history", query={"limit": limit})
    rows = [c | {"when": c["created_at"], "registry": page["approvals"].get(c.get("to") or "")} for c in page["items"]]
    show(rows, columns("when", "from", "to", "why", "by", "registry", "detail"), as_json, page)


@app.command()
def rollback(ctx: typer.Context, as_json: Json = False) -> None:
    """Serve again the model that served before the champion."""
    model = where(ctx).target().api("POST", "/models/rollback")
    show([model], columns("name", "state", "accuracy", "promotion_detail"), as_json, model)
    if model["state"] == "promoting" and not as_json:
        print(
            "promoting: it serves once the endpoint has switched to it (`vista models history` shows when)",
            file=sys.stderr,
        )
    raise typer.Exit(0 if model["state"] in ("promoting", "champion") else 1)


# The API's formats (vista_app.exports.FORMATS), as typer's choices.
ExportFormat = StrEnum("ExportFormat", {f: f for f in EXPORT_FORMATS})  # type: ignore[misc]


@app.command("export")
def export_model(
    ctx: typer.Context,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="what runtime takes it")],
    model: Annotated[str | None, typer.Argument(help="a model's name (default: the champion)")] = None,
    out: Annotated[Path, typer.Option(help="the folder the archive goes to")] = Path("."),
    as_json: Json = False,
) -> None:
    """A model in a portable format (SavedModel, TFLite float or int8, ONNX), checked on its test images, downloaded."""
    target = where(ctx).target()
    name = model or (client.champion(target) or {}).get("name")
    if not name:
        raise CommandError("no champion yet: name a model (`vista models` lists them)")

    def follow(job: str) -> None:
        for state in client.job_states(target, job, timeout_s=2 * 3600, must_exist=True):
            stderr().print(job_line(state), highlight=False)

    export = client.export_model(target, name, fmt.value, follow=follow)
    archive = Path(out) / f"{name}-{fmt.value}.tar.gz"
    client.download(export["url"], archive)
    row = {"model": name, **export.get("figures", {}), "archive": str(archive)}
    shown = columns("model", "format", "top1_agreement", "test_images", "size_bytes", "latency_ms", "archive")
    show([row], shown, as_json, raw=export | {"archive": str(archive)})


@app.command()
def report(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="one model (default: every model)")] = None,
    out: Annotated[Path, typer.Option(help="the folder for report.html")] = Path("vista-report"),
) -> None:
    """An HTML report of one model or of all: leaderboard, confusion matrix, curves, mistakes."""
    path, count = client.write_report(where(ctx).target(), model, out)
    print(f"{path} ({count} model(s); one file, charts and pictures inside)")


@app.command()
def costs(ctx: typer.Context, as_json: Json = False) -> None:
    """The cost ledger by day, job and model."""
    book = where(ctx).target().api("GET", "/costs")
    if as_json:
        print(json.dumps(book, indent=2))
        return
    prices = book["prices"]
    print(f"{book['currency']}, prices of {prices['as_of']} for {prices['region']} ({prices['source']})")
    for title, rows, keys in (
        ("by day", book["by_day"], ("day", "training_cost", "serving_cost", "total")),
        (
            "by job",
            book["by_job"],
            ("job", "day", "kind", "instance_type", "billable_seconds", "on_demand_cost", "cost", "savings"),
        ),
        (
            "by model",
            book["by_model"],
            ("model", "training_cost", "predictions", "serving_cost", "cost_per_1000_predictions", "total"),
        ),
    ):
        print(f"\n{title}")
        show(rows, columns(*keys), False)
    print(f"\ntotal: ${book['total']:,.4f} {book['currency']}")


@app.command()
def redrive(ctx: typer.Context) -> None:
    """Send the inbox dead-letter queue's images back to be classified."""
    moved = client.redrive(where(ctx).target())
    print(f"{moved} message(s) moved from the inbox dead-letter queue back to the inbox queue")


def main(argv: list[str] | None = None) -> int:
    """The console script: the command's exit status."""
    try:
        app(args=argv, prog_name="vista")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
