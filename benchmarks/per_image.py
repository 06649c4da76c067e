"""Vista's own work per image, without emulation: the classify handler on one S3 notification, and
`POST /predictions` with the same image, each with every AWS call answered at once in process
(botocore's Stubber), against the SavedModel's own time on the same image (`serving_default` on
the bytes Vista sends, what the endpoint's TF Serving runs).

The answers are recorded once, from one call of each handler against moto, the model's own answer
given for InvokeEndpoint; the timed calls get them back from the Stubber, so no emulator, network or
serialisation is timed, only what Vista does: parse the notification or request, look up the
champion, check and reduce the image, build the payload, read the answer, write the record, log and
emit metrics (to /dev/null). It runs in a child process configured as deployed (the template's
environment, Lambda's own variables, tracing on), so Powertools behaves as it does in Lambda.

    PYTHONPATH=functions:training_job .venv/bin/python -m benchmarks.per_image [--architectures A,B] [--runs 40]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks.cold_start import ROOT, lambda_environment

PATHS = {"classify (S3 inbox -> record)": "ClassifyFunction", "POST /predictions": "ApiFunction"}
# The goal is the default training request's model's (training_request.py); a smaller model is
# shown beside it, where the same few milliseconds of Vista are a larger share.
DEFAULT_ARCHITECTURE = "resnet50"


def _clients(settings: Any) -> list[Any]:
    """Every client a handler may call: the services', and each table's own (boto3's resources)."""
    from vista_app.aws import client, table

    tables = [value for field, value in vars(settings).items() if field.endswith("_table") and value]
    return [client(s) for s in ("s3", "dynamodb", "sagemaker-runtime")] + [table(t).meta.client for t in tables]


@contextlib.contextmanager
def recorded(clients: list[Any]) -> Iterator[dict[int, list[tuple[str, dict[str, Any]]]]]:
    """Each client's calls, in order, as the wire answered them (before boto3's resources turn
    DynamoDB's typed values into Python ones: the Stubber's answers go through that again)."""
    from botocore.response import StreamingBody

    calls: dict[int, list[tuple[str, dict[str, Any]]]] = {id(c): [] for c in clients}

    def hook(owner: Any) -> Callable[..., None]:
        def after_call(model: Any, parsed: dict[str, Any], **_: Any) -> None:
            answer = {k: v for k, v in parsed.items() if k != "Body"}
            if "Body" in parsed:  # read it here, and give the caller the same bytes to read
                data = parsed["Body"].read()
                parsed["Body"] = StreamingBody(io.BytesIO(data), len(data))
                answer["Body"] = data
            calls[id(owner)].append((model.name, copy.deepcopy(answer)))

        return after_call

    # First on the service's own event: boto3's DynamoDB resources transform answers there too.
    events = {id(c): f"after-call.{c.meta.service_model.service_id.hyphenize()}" for c in clients}
    for owner in clients:
        owner.meta.events.register_first(events[id(owner)], hook(owner), unique_id=f"per-image-{id(owner)}")
    try:
        yield calls
    finally:
        for owner in clients:
            owner.meta.events.unregister(events[id(owner)], unique_id=f"per-image-{id(owner)}")


@contextlib.contextmanager
def answered(clients: list[Any], rounds: list[dict[int, list[tuple[str, dict[str, Any]]]]]) -> Iterator[None]:
    """Each round's recorded answers in turn, from each client's Stubber: a call not recorded fails."""
    from botocore import xform_name
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    stubbers = []
    for owner in clients:
        stubber = Stubber(owner)
        for calls in rounds:
            for name, answer in calls[id(owner)]:
                operation = xform_name(name)
                if "Error" in answer:
                    error = answer["Error"]
                    stubber.add_client_error(operation, error.get("Code", ""), error.get("Message", ""))
                    continue
                response = copy.deepcopy(answer)  # boto3 transforms an answer in place
                if "Body" in response:
                    response["Body"] = StreamingBody(io.BytesIO(answer["Body"]), len(answer["Body"]))
                stubber.add_response(operation, response)
        stubber.activate()
        stubbers.append(stubber)
    try:
        yield
    finally:
        for stubber in stubbers:
            stubber.assert_no_pending_responses()
            stubber.deactivate()


def events(image: bytes, bucket: str, stored: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The classify function's SQS batch of the S3 notification of the `stored` object (PutObject's
    answer), and API Gateway's POST /predictions of the same image."""
    batch = json.loads((ROOT / "events" / "classify_inbox_batch.json").read_text())
    batch["Records"] = batch["Records"][:1]
    body = json.loads(batch["Records"][0]["body"])
    body["Records"] = body["Records"][:1]
    body["Records"][0]["s3"]["bucket"]["name"] = bucket
    notified = {"key": "inbox/scene.jpg", "size": len(image), "eTag": stored["ETag"].strip('"')}
    if stored.get("VersionId"):
        notified["versionId"] = stored["VersionId"]
    else:
        body["Records"][0]["s3"]["object"].pop("versionId", None)
    body["Records"][0]["s3"]["object"].update(notified)
    batch["Records"][0]["body"] = json.dumps(body)
    post = json.loads((ROOT / "events" / "api_post_predictions_jpeg.json").read_text())
    post["body"] = base64.b64encode(image).decode()
    return {"ClassifyFunction": batch, "ApiFunction": post}


def measure_child(architecture: str, image_size: int, runs: int) -> list[dict[str, Any]]:
    """In the child (environment as deployed): the model exported as training does, then timed."""
    import tensorflow as tf

    from architectures import build_model
    from export import export_savedmodel
    from synthetic import CLASSES

    model = build_model(architecture, len(CLASSES), image_size=image_size, augment=False).model
    with tempfile.TemporaryDirectory() as folder:
        export_savedmodel(model, list(CLASSES), image_size, folder)
        return _record_and_time(tf.saved_model.load(f"{folder}/1"), architecture, image_size, runs)


def _record_and_time(saved: Any, architecture: str, image_size: int, runs: int) -> list[dict[str, Any]]:
    """Record each path's AWS answers against moto, then time each path and the model in turn."""
    import boto3
    import tensorflow as tf
    from moto import mock_aws

    from benchmarks.serving import jpeg
    from vista import template as cfn
    from vista.local.cloud import LOCAL_PARAMETERS
    from vista.local.lambda_runtime import ACCOUNT, REGION, STACK, Function
    from vista.local.provision import provision_resources
    from vista.local.sagemaker.serving import predict

    image = jpeg(image_size)
    sent: list[bytes] = []

    def endpoint(request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        sent.append(base64.b64decode(json.loads(body)["instances"][0]["b64"]))
        answer = json.dumps(predict(saved, body)).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(answer))

    from vista_app import aws
    from vista_app.config import settings
    from vista_app.records import Models

    template = cfn.load()
    # Invoked as local mode invokes them: the handler the template names, a context with its
    # memory and timeout.
    functions = {name: Function.from_template(template, name) for name in PATHS.values()}
    rows = []
    with mock_aws():
        aws.reset()
        resolver = cfn.placeholder_resolver(
            template, stack=STACK, region=REGION, account=ACCOUNT, parameters=LOCAL_PARAMETERS
        )
        provision_resources(template, resolver, client=boto3.client)
        config = settings()
        Models(config.models_table).create(
            {
                "name": "vista-champion",
                "state": "champion",
                "accuracy": 0.9,
                "promoted_at": "2026-12-03T06:00:00+00:00",
                "hyperparameters": {"architecture": architecture, "image_size": image_size},
            }
        )
        runtime = aws.client("sagemaker-runtime")
        runtime.meta.events.register_first("before-send.sagemaker-runtime.InvokeEndpoint", endpoint)
        clients = _clients(config)
        stored = aws.client("s3").put_object(Bucket=config.data_bucket, Key="inbox/scene.jpg", Body=image)
        inputs = events(image, config.data_bucket, stored)
        recordings: dict[str, Any] = {}
        for function, event in inputs.items():
            with recorded(clients) as calls, open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                result = functions[function].invoke(copy.deepcopy(event))
            failed = result.get("batchItemFailures") or (result.get("statusCode", 201) >= 300)
            if failed or len(sent) != len(recordings) + 1:  # each path must have asked the model
                raise RuntimeError(f"{function} did not classify the image while recording: {result}")
            recordings[function] = calls
        runtime.meta.events.unregister("before-send.sagemaker-runtime.InvokeEndpoint", endpoint)

    served = sent[0]
    serve = saved.signatures["serving_default"]
    for _ in range(3):
        serve(image_bytes=tf.constant([served]))
    model_times = []
    path_times: dict[str, list[float]] = {function: [] for function in inputs}
    warm = 3
    with contextlib.ExitStack() as stack:
        stack.enter_context(answered(clients, [recordings[f] for _ in range(runs + warm) for f in inputs]))
        sink = stack.enter_context(open(os.devnull, "w"))
        stack.enter_context(contextlib.redirect_stdout(sink))
        for round_ in range(runs + warm):  # taken in turn, so a drift in the machine's speed falls on all
            for function, event in inputs.items():
                copied = copy.deepcopy(event)
                started = time.perf_counter()
                functions[function].invoke(copied)
                if round_ >= warm:
                    path_times[function].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            serve(image_bytes=tf.constant([served]))
            if round_ >= warm:
                model_times.append((time.perf_counter() - started) * 1000)
    model_ms = statistics.median(model_times)
    for path, function in PATHS.items():
        vista_ms = statistics.median(path_times[function])
        rows.append(
            {
                "path": path,
                "architecture": architecture,
                "image": f"{image_size} x {image_size} JPEG, {len(image):,} B ({len(served):,} B sent)",
                "vista_ms": round(vista_ms, 2),
                "model_ms": round(model_ms, 2),
                "vista_share": round(vista_ms / model_ms, 3),
                "aws_calls": sum(len(c) for c in recordings[function].values()),
                "default_model": architecture == DEFAULT_ARCHITECTURE,
            }
        )
    return rows


class _Raw(io.BytesIO):
    """An HTTP body as urllib3 gives it to botocore (`stream()` and `read()`)."""

    def stream(self, amt: int = 1024, decode_content: Any = None) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk


def measure(architectures: list[str], image_size: int, runs: int) -> list[dict[str, Any]]:
    environment = lambda_environment("ApiFunction")
    environment |= lambda_environment("ClassifyFunction")  # both functions' tables and settings
    environment["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("functions", "training_job", "."))
    environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
    rows = []
    for architecture in architectures:
        command = ["--child", architecture, "--image-size", str(image_size), "--runs", str(runs)]
        answer = subprocess.run(  # its stderr (TensorFlow's, a failure's) shows as it comes
            [sys.executable, "-m", "benchmarks.per_image", *command],
            env=environment,
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        rows += json.loads(answer.stdout.strip().splitlines()[-1])
    return rows


def table(rows: list[dict[str, Any]], runs: int) -> str:
    lines = [
        f"Vista's own work per image, AWS answered in process (Stubber), median of {runs} (goal: <= 25% of the model)",
        f"{'path':<30}  {'model':<10}  {'Vista ms':>8}  {'model ms':>8}  {'Vista/model':>11}  {'AWS calls':>9}",
    ]
    lines += [
        f"{r['path']:<30}  {r['architecture']:<10}  {r['vista_ms']:>8.1f}  {r['model_ms']:>8.1f}  "
        f"{r['vista_share']:>10.0%}  {r['aws_calls']:>9}"
        for r in rows
    ]
    lines.append(f"image: {rows[0]['image']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", default=f"{DEFAULT_ARCHITECTURE},fine_cnn")
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure_child(args.child, args.image_size, args.runs)))
        return []
    rows = measure(args.architectures.split(","), args.image_size, args.runs)
    print(table(rows, args.runs))
    return rows


if __name__ == "__main__":
    main()
