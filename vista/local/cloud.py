"""The local cloud: moto server, the local SageMaker, the stack's resources provisioned from
template.yaml, and a dispatcher that delivers events to the same handler functions Lambda runs.

Everything binds 127.0.0.1 on ports the OS picks. Which handler gets which event, and every
bucket, queue, table and route, comes from the template: there is no second list.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from vista import template as cfn
from vista.local.provision import notification_filter, provision_resources
from vista.local.sagemaker import LocalSageMaker

log = logging.getLogger("vista.local")
ROOT = Path(__file__).resolve().parents[2]
REGION, ACCOUNT, STACK = "us-east-1", "123456789012", "vista"
STATE_FILE = ROOT / ".vista" / "local.json"
# What a deploy must be given and local mode gives itself: the console's user (nobody signs in
# locally: the local console proxy holds this user's session).
LOCAL_PARAMETERS = {"ConsoleAdminEmail": "console@vista.local"}
# Where the handlers' own retries go (Lambda's async invocation retries twice, then the destination).
ASYNC_ATTEMPTS = 3
_invocation = threading.local()


class FunctionLogs(io.TextIOBase):
    """sys.stdout while the local cloud runs: what a function prints (Powertools' JSON logs, EMF
    metrics) goes to functions.log, as Lambda sends it to CloudWatch Logs; the rest to the terminal."""

    def __init__(self, terminal: Any, path: Path) -> None:
        self.terminal = terminal
        self.log = open(path, "a", buffering=1)  # noqa: SIM115 (closed by close())

    def write(self, text: str) -> int:
        return (self.log if getattr(_invocation, "active", False) else self.terminal).write(text)

    def flush(self) -> None:
        self.terminal.flush()
        self.log.flush()

    def isatty(self) -> bool:
        return self.terminal.isatty()

    def close(self) -> None:
        self.log.close()


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str
    invoked_function_arn: str
    log_group_name: str
    log_stream_name: str
    started: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


@dataclass
class Function:
    """One AWS::Serverless::Function: its handler, resolved against Globals."""

    name: str
    handler: str
    timeout: int
    memory: int

    def invoke(self, event: dict[str, Any]) -> Any:
        module, attribute = self.handler.rsplit(".", 1)
        handler = getattr(import_module(module), attribute)
        context = LambdaContext(
            function_name=f"{STACK}-{self.name}",
            memory_limit_in_mb=self.memory,
            timeout_s=self.timeout,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{self.name}",
            log_group_name=f"/aws/lambda/{STACK}-{self.name}",
            log_stream_name="local",
            started=time.monotonic(),
        )
        _invocation.active = True
        try:
            return handler(event, context)
        finally:
            _invocation.active = False


@dataclass
class Route:
    method: str  # or ANY
    pattern: re.Pattern[str]
    resource: str
    function: Function
    authorizer: str | None  # a Lambda authorizer of the API's; None: the API's default

    @property
    def greedy(self) -> bool:
        return "+}" in self.resource


@dataclass
class Source:
    """Messages waiting for a function: an SQS event source, or a queue standing in for an
    S3 notification or an EventBridge rule (the event is the message body)."""

    function: Function
    queue_url: str
    queue_arn: str
    kind: str  # "sqs" | "event"
    batch_size: int = 1
    concurrency: int = 1


class LocalCloud:
    def __init__(
        self,
        workdir: Path,
        *,
        verbose: bool = False,
        parameters: dict[str, str] | None = None,
        visibility_timeout_s: int | None = None,
        deliveries: int = 1,
    ) -> None:
        """`parameters` override the template's, as a deploy's would; `visibility_timeout_s`
        shortens the SQS event sources' queues' (so retries and the DLQ come in seconds, not
        minutes); `deliveries` delivers every event that many times at once (S3, SQS and
        EventBridge promise at least once)."""
        self.workdir = workdir
        self.verbose = verbose
        self.parameters = {**LOCAL_PARAMETERS, **(parameters or {})}
        self.visibility_timeout_s = visibility_timeout_s
        self.deliveries = deliveries
        self.template = cfn.load()
        self.sources: list[Source] = []
        self.routes: list[Route] = []
        self.functions: dict[str, Function] = {}
        self.outputs: dict[str, str] = {}
        self.urls: dict[str, str] = {}
        self._moto: Any = None
        self._sagemaker: LocalSageMaker | None = None
        self._api: Any = None
        self._console: Any = None
        self._console_user: tuple[str, str, str] | None = None  # user pool, app client, username
        self._resolver: cfn.Resolver | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stdout: Any = sys.stdout

    # ------------------------------------------------------------------ start / stop
    def start(self) -> dict[str, str]:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Powertools Metrics warns on every request that recorded none (each GET): noise here.
        warnings.filterwarnings("ignore", "No application metrics to publish")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._stdout = sys.stdout
        sys.stdout = FunctionLogs(sys.stdout, self.workdir / "functions.log")
        self._moto = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.urls["aws"] = f"http://{host}:{port}"
        # moto's accounts live in the process, not the server: a second cloud starts empty.
        self._reset_moto()
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 (moto takes any credentials)
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_ENDPOINT_URL=self.urls["aws"],
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        import boto3

        self.s3, self.sqs, self.events = boto3.client("s3"), boto3.client("sqs"), boto3.client("events")
        self._sagemaker = LocalSageMaker(
            self.workdir / "sagemaker",
            region=REGION,
            account=ACCOUNT,
            s3=self.s3,
            events=self.events,
            logs=boto3.client("logs"),
        )
        self.urls["sagemaker"] = self._sagemaker.start()
        os.environ.update(
            AWS_ENDPOINT_URL_SAGEMAKER=self.urls["sagemaker"], AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=self.urls["sagemaker"]
        )
        try:
            self.provision()
            self._start_dispatcher()
            self.urls["api"] = self._start_api()
            if self._console_user:
                self.urls["console"] = self._start_console()
        except BaseException:
            self.stop()  # nothing left running behind a cloud that did not start
            raise
        self.outputs["ApiUrl"] = self.urls["api"]
        STATE_FILE.parent.mkdir(exist_ok=True)
        STATE_FILE.write_text(
            json.dumps({"pid": os.getpid(), "urls": self.urls, "outputs": self.outputs, "region": REGION}, indent=2)
        )
        return self.urls

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._sagemaker:
            self._sagemaker.stop()
        for server in (self._console, self._api):
            if server:
                server.shutdown()
        if self._moto:
            self._reset_moto()
            self._moto.stop()
        if isinstance(sys.stdout, FunctionLogs):
            sys.stdout.close()
            sys.stdout = self._stdout
        with contextlib.suppress(FileNotFoundError, ValueError):
            if json.loads(STATE_FILE.read_text()).get("pid") == os.getpid():
                STATE_FILE.unlink()

    def _reset_moto(self) -> None:
        request = urllib.request.Request(self.urls["aws"] + "/moto-api/reset", method="POST")  # noqa: S310 (127.0.0.1)
        urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 (127.0.0.1)

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ resources
    def provision(self) -> None:
        """Create what the template declares, in moto, with the names a deploy would give."""
        import boto3

        template = self.template
        resolver = cfn.placeholder_resolver(
            template, stack=STACK, region=REGION, account=ACCOUNT, parameters=self.parameters
        )
        code_uris = []
        for logical, spec in cfn.resources(template, "Custom::TrainingCode").items():
            props = resolver.resolve(spec["Properties"])
            code_uris.append(f"s3://{props['Bucket']}/{props['Key']}")
            resolver.attributes[(logical, "Uri")] = code_uris[-1]
        resources = template["Resources"]
        handled = {
            "AWS::S3::Bucket",
            "AWS::S3::BucketPolicy",
            "AWS::SQS::Queue",
            "AWS::SQS::QueuePolicy",
            "AWS::DynamoDB::Table",
            "AWS::IAM::Role",
            "AWS::IAM::ManagedPolicy",  # the functions' boundary: local functions run in this process
            "AWS::Serverless::Function",
            "AWS::Serverless::LayerVersion",
            "AWS::Serverless::Api",
            "AWS::Logs::LogGroup",
            "AWS::CloudWatch::Alarm",
            "AWS::Cognito::UserPool",
            "AWS::Cognito::UserPoolClient",
            "AWS::Cognito::UserPoolUser",
            "AWS::Cognito::UserPoolDomain",  # not created: local mode has no managed sign-in pages
            "Custom::TrainingCode",
        }
        unknown = sorted({spec["Type"] for spec in resources.values()} - handled)
        if unknown:
            raise cfn.UnsupportedTemplate(f"local mode cannot provision {unknown}")

        notifications = provision_resources(template, resolver, client=boto3.client)
        self._resolver = resolver
        clients = {  # user pool → its app client
            resolver.resolve(spec["Properties"])["UserPoolId"]: resolver.refs[logical]
            for logical, spec in cfn.resources(template, "AWS::Cognito::UserPoolClient").items()
        }
        for spec in cfn.resources(template, "AWS::Cognito::UserPoolUser").values():
            user = resolver.resolve(spec["Properties"])
            self._console_user = (user["UserPoolId"], clients[user["UserPoolId"]], user["Username"])
        self._wire_functions(resolver, notifications)
        for bucket, configurations in notifications.items():
            if configurations:
                self.s3.put_bucket_notification_configuration(
                    Bucket=bucket, NotificationConfiguration={"QueueConfigurations": configurations}
                )
        self._publish_training_code(code_uris)
        self.outputs.update(
            {
                name: str(resolver.resolve(output["Value"]))
                for name, output in template.get("Outputs", {}).items()
                if name != "ApiUrl"
            }
        )

    def _wire_functions(
        self,
        resolver: cfn.Resolver,
        notifications: dict[str, list],
    ) -> None:
        template = self.template
        globals_ = template.get("Globals", {}).get("Function", {})
        environments = set()
        for logical, spec in cfn.resources(template, "AWS::Serverless::Function").items():
            props = spec["Properties"]
            function = Function(
                logical,
                props["Handler"],
                int(props.get("Timeout", globals_.get("Timeout", 3))),
                int(props.get("MemorySize", globals_.get("MemorySize", 128))),
            )
            self.functions[logical] = function
            environments.add(json.dumps(cfn.function_environment(template, resolver, logical), sort_keys=True))
            for event_name, event in props.get("Events", {}).items():
                kind, event_props = event["Type"], resolver.resolve(event.get("Properties", {}))
                if kind == "SQS":
                    arn = event_props["Queue"]
                    url = self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
                    self.sources.append(
                        Source(
                            function,
                            url,
                            arn,
                            "sqs",
                            int(event_props.get("BatchSize", 10)),
                            int(event_props.get("ScalingConfig", {}).get("MaximumConcurrency", 2)),
                        )
                    )
                elif kind in ("S3", "EventBridgeRule"):
                    url, arn = self._dispatch_queue(f"{STACK}-{logical}-{event_name}")
                    self.sources.append(Source(function, url, arn, "event"))
                    if kind == "S3":
                        bucket = event_props["Bucket"]
                        events = event_props["Events"]
                        notifications.setdefault(bucket, []).append(
                            {
                                "QueueArn": arn,
                                "Events": events if isinstance(events, list) else [events],
                                **(
                                    {"Filter": notification_filter(event_props["Filter"])}
                                    if "Filter" in event_props
                                    else {}
                                ),
                            }
                        )
                    else:
                        rule = f"{STACK}-{logical}-{event_name}"
                        self.events.put_rule(Name=rule, EventPattern=json.dumps(event_props["Pattern"]))
                        self.events.put_targets(Rule=rule, Targets=[{"Id": "dispatch", "Arn": arn}])
                elif kind == "Api":
                    path = event_props["Path"]
                    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(path))
                    pattern = re.sub(r"\\{(\w+)\\\+\\}", r"(?P<\1>.+)", pattern)  # a greedy {proxy+}
                    authorizer = event_props.get("Auth", {}).get("Authorizer")
                    self.routes.append(
                        Route(event_props["Method"].upper(), re.compile(f"^{pattern}$"), path, function, authorizer)
                    )
                else:
                    raise cfn.UnsupportedTemplate(f"local mode cannot deliver {kind} events ({logical}.{event_name})")
        if self.visibility_timeout_s is not None:
            for source in self.sources:
                if source.kind == "sqs":
                    self.sqs.set_queue_attributes(
                        QueueUrl=source.queue_url, Attributes={"VisibilityTimeout": str(self.visibility_timeout_s)}
                    )
        if len(environments) != 1:
            raise cfn.UnsupportedTemplate(
                "local mode runs every function in one process: their environments "
                "must be the same (put variables in Globals)"
            )
        os.environ.update(json.loads(environments.pop()))
        os.environ.update(
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="INFO" if self.verbose else "WARNING",
        )
        from vista_app import aws, config

        aws.reset()
        config.settings.cache_clear()

    def _dispatch_queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "10"})["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _publish_training_code(self, uris: list[str]) -> None:
        """What `sam build` + the TrainingCode custom resource do: the same Makefile target packs
        training_job/, and the archive goes to the S3 location each resource names."""
        with tempfile.TemporaryDirectory() as artifacts:
            subprocess.run(  # noqa: S603 (fixed arguments)
                [  # noqa: S607 (make from PATH, as sam build finds it)
                    "make",
                    "-s",
                    "-C",
                    str(ROOT / "training_job"),
                    "build-TrainingCodeLayer",
                    f"ARTIFACTS_DIR={artifacts}",
                ],
                check=True,
            )
            for uri in uris:
                bucket, _, key = uri.removeprefix("s3://").partition("/")
                self.s3.upload_file(str(Path(artifacts) / "sourcedir.tar.gz"), bucket, key)

    # ------------------------------------------------------------------ dispatcher
    def _start_dispatcher(self) -> None:
        for source in self.sources:
            thread = threading.Thread(
                target=self._poll, args=(source,), daemon=True, name=f"dispatch-{source.function.name}"
            )
            thread.start()
            self._threads.append(thread)

    def _poll(self, source: Source) -> None:
        pool = ThreadPoolExecutor(source.concurrency, thread_name_prefix=source.function.name)
        in_flight: set[Future] = set()
        while not self._stop.is_set():
            in_flight = {f for f in in_flight if not f.done()}
            # Each batch is invoked `deliveries` times at once; every invocation counts against
            # the event source's concurrency, as each would in Lambda.
            if in_flight and (len(in_flight) + 1) * self.deliveries > source.concurrency:
                time.sleep(0.05)
                continue
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=source.queue_url,
                    MaxNumberOfMessages=source.batch_size,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception:  # the server is going away at shutdown
                if self._stop.is_set():
                    break
                raise
            if not messages:
                time.sleep(0.2)
                continue
            deliver = self._deliver_batch if source.kind == "sqs" else self._deliver_event
            in_flight.add(pool.submit(deliver, source, messages))
        pool.shutdown(wait=True, cancel_futures=True)

    def _deliver_batch(self, source: Source, messages: list[dict[str, Any]]) -> None:
        """An SQS event source: the batch as Lambda sends it, partial failures left on the queue."""
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": m.get("MessageAttributes", {}),
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": source.queue_arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }
        failed: set[str] = set()
        for outcome in self._invoke_repeatedly(source, event):
            if isinstance(outcome, BaseException):
                log.error("%s failed on a batch of %d: %r", source.function.name, len(messages), outcome)
                failed |= {m["MessageId"] for m in messages}
            else:
                failed |= {item["itemIdentifier"] for item in (outcome or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for chunk in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=source.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[chunk : chunk + 10])
                ],
            )

    def _deliver_event(self, source: Source, messages: list[dict[str, Any]]) -> None:
        """An asynchronous invocation (S3 notification, EventBridge rule): retried, then dropped
        into the function's on-failure destination, as Lambda does."""
        for message in messages:
            event = json.loads(message["Body"])
            if event.get("Event") == "s3:TestEvent":
                self.sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            errors = [o for o in self._invoke_repeatedly(source, event) if isinstance(o, BaseException)]
            if errors:
                attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                log.error("%s failed (attempt %d of %d): %r", source.function.name, attempts, ASYNC_ATTEMPTS, errors[0])
                if attempts < ASYNC_ATTEMPTS:
                    continue
                self._on_failure(source, event)
            self.sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _invoke_repeatedly(self, source: Source, event: dict[str, Any]) -> list[Any]:
        """Invoke once, or `deliveries` times at once; each outcome is a result or the exception."""

        def deliver() -> Any:  # each delivery gets its own copy, as each would arrive from the service
            return source.function.invoke(json.loads(json.dumps(event)))

        outcomes: list[Any] = []
        with ThreadPoolExecutor(self.deliveries) as pool:
            for future in [pool.submit(deliver) for _ in range(self.deliveries)]:
                try:
                    outcomes.append(future.result())
                except Exception as error:
                    outcomes.append(error)
        return outcomes

    def _on_failure(self, source: Source, event: dict[str, Any]) -> None:
        spec = self.template["Resources"][source.function.name]["Properties"]
        destination = spec.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
        target = destination.get("Destination", {}).get("Fn::GetAtt", [None])[0]
        if target:
            url = self.sqs.get_queue_url(QueueName=f"{STACK}-{target}")["QueueUrl"]
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"requestPayload": event}))

    # ------------------------------------------------------------------ API Gateway
    def _start_api(self) -> str:
        from werkzeug.serving import make_server

        assert self._resolver is not None
        api = self.template["Resources"]["Api"]["Properties"]
        gateway = _ApiGateway(self.routes, self._resolver.resolve(api), self.functions)
        self._api = make_server("127.0.0.1", 0, gateway, threaded=True)
        thread = threading.Thread(target=self._api.serve_forever, daemon=True, name="api")
        thread.start()
        return f"http://127.0.0.1:{self._api.server_port}/{api.get('StageName', 'v1')}"

    # ------------------------------------------------------------------ web console
    def console_session(self) -> str:
        """A Cognito access token for the template's console user, as its sign-in would give."""
        import boto3

        assert self._console_user is not None
        pool, client, username = self._console_user
        cognito = boto3.client("cognito-idp")
        password = f"Local-{uuid.uuid4()}"  # a fresh one each time: nobody types it
        cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        answer = cognito.admin_initiate_auth(
            UserPoolId=pool,
            ClientId=client,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        return answer["AuthenticationResult"]["AccessToken"]

    def _start_console(self) -> str:
        from werkzeug.serving import make_server

        from vista.local.console import ConsoleProxy

        proxy = ConsoleProxy(self.urls["api"], self.console_session)
        self._console = make_server("127.0.0.1", 0, proxy, threaded=True)
        threading.Thread(target=self._console.serve_forever, daemon=True, name="console").start()
        return f"http://127.0.0.1:{self._console.server_port}/"

    @property
    def sagemaker(self) -> LocalSageMaker:
        assert self._sagemaker is not None
        return self._sagemaker


# API Gateway's answer to an unknown route, or an IAM route called unsigned.
MISSING_TOKEN = ("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")


class _ApiGateway:
    """HTTP requests → API Gateway REST proxy events → the api function → HTTP responses, with
    the API's authorizers: SigV4 by default (only its presence is checked: moto takes any
    signature), or a route's Lambda REQUEST authorizer, invoked as API Gateway invokes it, and
    the API's gateway responses for what they refuse."""

    def __init__(self, routes: list[Route], api: dict[str, Any], functions: dict[str, Function]) -> None:
        # API Gateway prefers an exact resource to a greedy {proxy+} one.
        self.routes = sorted(routes, key=lambda r: r.greedy)
        self.binary = {t.replace("~1", "/") for t in api.get("BinaryMediaTypes", [])}
        auth = api.get("Auth", {})
        self.iam_auth = auth.get("DefaultAuthorizer") == "AWS_IAM"
        self.authorizers = auth.get("Authorizers", {})
        self.functions = {f"{STACK}-{name}": function for name, function in functions.items()}
        self.gateway_responses = api.get("GatewayResponses", {})

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        from werkzeug.wrappers import Request

        return self._handle(Request(environ))(environ, start_response)

    def _handle(self, request: Any) -> Any:
        stage, _, path = request.path.lstrip("/").partition("/")
        path = "/" + path
        resource = path.rstrip("/") or "/"  # API Gateway takes /console/ for /console
        route, found = next(
            ((r, m) for r in self.routes if r.method in (request.method, "ANY") and (m := r.pattern.match(resource))),
            (None, None),
        )
        if route is None or found is None:  # what API Gateway answers for an unknown route
            return self._refuse(*MISSING_TOKEN)
        event = self._proxy_event(request, route, found, stage, path)
        if route.authorizer is None:
            if self.iam_auth and not request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
                return self._refuse(*MISSING_TOKEN)
        else:
            refusal, granted = self._authorize(route.authorizer, event)
            if refusal:
                return refusal
            event["requestContext"]["authorizer"] = granted
        return self._respond(route.function.invoke(event))

    def _proxy_event(self, request: Any, route: Route, found: re.Match[str], stage: str, path: str) -> dict[str, Any]:
        body = request.get_data()
        content_type = (request.content_type or "").split(";")[0].strip()
        is_binary = content_type in self.binary
        headers = dict(request.headers.items())
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": {k: request.headers.getlist(k) for k in headers},
            "queryStringParameters": request.args.to_dict() or None,
            "multiValueQueryStringParameters": {k: request.args.getlist(k) for k in request.args} or None,
            "pathParameters": found.groupdict() or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": route.resource,
                "httpMethod": request.method,
                "path": f"/{stage}{path}",
                "stage": stage,
                "accountId": ACCOUNT,
                "requestId": str(uuid.uuid4()),
                "protocol": "HTTP/1.1",
                "requestTimeEpoch": int(time.time() * 1000),
                "apiId": "local",
                "identity": {
                    "sourceIp": request.remote_addr,
                    "userAgent": request.user_agent.string,
                    "accessKey": "local",
                    "userArn": f"arn:aws:iam::{ACCOUNT}:user/local",
                    "caller": "local",
                    "accountId": ACCOUNT,
                },
            },
            "body": (base64.b64encode(body).decode() if is_binary else body.decode("utf-8", "replace"))
            if body
            else None,
            "isBase64Encoded": bool(body) and is_binary,
        }

    def _authorize(self, name: str, event: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """(a refusal, None) or (None, the context the authorizer let the request in with)."""
        spec = self.authorizers[name]
        headers = {k.lower(): v for k, v in event["headers"].items()}
        # Without every identity source, API Gateway refuses before calling the authorizer.
        if any(h.lower() not in headers for h in spec.get("Identity", {}).get("Headers", [])):
            return self._refuse("UNAUTHORIZED", 401, "Unauthorized"), {}
        context = event["requestContext"]
        request = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/{context['stage']}/"
            f"{event['httpMethod']}{event['path']}",
            **{k: event[k] for k in ("resource", "path", "httpMethod", "headers", "multiValueHeaders")},
            **{k: event[k] for k in ("queryStringParameters", "pathParameters", "stageVariables")},
            "requestContext": context,
        }
        try:
            answer = self.functions[spec["FunctionArn"].rsplit(":", 1)[1]].invoke(request)
        except Exception as error:  # what API Gateway makes of an authorizer's failure
            if str(error) == "Unauthorized":
                return self._refuse("UNAUTHORIZED", 401, "Unauthorized"), {}
            log.warning("authorizer %s failed: %s", name, error)
            return self._refuse("AUTHORIZER_FAILURE", 500, None), {}
        statements = answer.get("policyDocument", {}).get("Statement", [])
        allowed = any(s["Effect"] == "Allow" for s in statements) and not any(s["Effect"] == "Deny" for s in statements)
        if not allowed:
            return self._refuse("ACCESS_DENIED", 403, "User is not authorized to access this resource"), {}
        return None, {**answer.get("context", {}), "principalId": answer.get("principalId")}

    def _refuse(self, kind: str, status: int, message: str | None) -> Any:
        from werkzeug.wrappers import Response

        custom = self.gateway_responses.get(kind, {})
        headers = {k: v.strip("'") for k, v in custom.get("ResponseParameters", {}).get("Headers", {}).items()}
        body = json.dumps({"message": message})
        return Response(body, int(custom.get("StatusCode", status)), headers=headers, content_type="application/json")

    def _respond(self, answer: dict[str, Any]) -> Any:
        from werkzeug.wrappers import Response

        payload = answer.get("body") or ""
        data = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode()
        headers = list((answer.get("headers") or {}).items())
        headers += [(k, v) for k, values in (answer.get("multiValueHeaders") or {}).items() for v in values]
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return Response(data, answer.get("statusCode", 200), headers=headers)
