"""The local cloud: moto server, the local SageMaker, the stack's resources provisioned from
template.yaml, and a dispatcher that delivers events to the same handler functions Lambda runs.

Everything binds 127.0.0.1 on ports the OS picks. Which handler gets which event, and every
bucket, queue, table and route, comes from the template: there is no second list.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
import urllib.request
import uuid
import warnings
from pathlib import Path
from typing import Any

from vista import template as cfn
from vista.local.apigateway import ApiGateway, Route, route_for
from vista.local.cloudwatch import LocalCloudWatch
from vista.local.dynamodb import isolate_as_dynamodb_does
from vista.local.event_sources import EventSources, Source
from vista.local.iam import Enforcer, Request, Role, function_roles, service_roles
from vista.local.lambda_runtime import ACCOUNT, REGION, STACK, Function, FunctionOutput, capture_output, invoking
from vista.local.provision import notification_filter, provision_resources
from vista.local.s3 import answer_cors_as_s3_does, send_records_as_s3_does
from vista.local.sagemaker import LocalSageMaker, SageMakerServer
from vista.project import pack_training_code
from vista.target import endpoint_variables

log = logging.getLogger("vista.local")
# What a deploy must be given and local mode gives itself: the console's user (nobody signs in
# locally: the local console proxy holds this user's session, so it has no authenticator app).
LOCAL_PARAMETERS = {"ConsoleAdminEmail": "console@vista.local", "ConsoleMfa": "OPTIONAL"}
# What Lambda polls an SQS event source with, as the function's role (with-sqs.html, "Execution
# role permissions"): a role without them and the event source mapping is refused.
SQS_POLLING = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


class PortInUse(OSError):
    pass


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LocalCloud:
    def __init__(
        self,
        workdir: Path,
        *,
        verbose: bool = False,
        parameters: dict[str, str] | None = None,
        visibility_timeout_s: int | None = None,
        deliveries: int = 1,
        template: dict[str, Any] | None = None,
        port: int = 0,
        announce: Path | None = None,
    ) -> None:
        """`template` replaces template.yaml (a test's variant of it); `parameters` override the
        template's, as a deploy's would; `visibility_timeout_s`
        shortens the SQS event sources' queues' (so retries and the DLQ come in seconds, not
        minutes); `deliveries` delivers every event that many times at once (S3, SQS and
        EventBridge promise at least once); `port` puts AWS's services (moto), SageMaker, the API and
        the console on that port and the three after it (0: ports the OS picks); `announce` is the
        file where the cloud says where it listens, for the `vista` command (removed as it stops)."""
        self.workdir = workdir
        self.verbose = verbose
        self.parameters = {**LOCAL_PARAMETERS, **(parameters or {})}
        self.visibility_timeout_s = visibility_timeout_s
        self.deliveries = deliveries
        self.port = port
        self.announce = announce
        self.template = template or cfn.load()
        cfn.check_parameters(self.template, self.parameters)
        self.routes: list[Route] = []
        self.functions: dict[str, Function] = {}
        self.outputs: dict[str, str] = {}
        self.urls: dict[str, str] = {}
        self._moto: Any = None
        self._sagemaker: LocalSageMaker | None = None
        self._api: Any = None
        self._gateway: ApiGateway | None = None
        self._console: Any = None
        self._console_user: tuple[str, str, str] | None = None  # user pool, app client, username
        self._resolver: cfn.Resolver | None = None
        self.dispatcher: EventSources | None = None
        self._sagemaker_server: SageMakerServer | None = None
        self._output: FunctionOutput | None = None
        self.iam: Enforcer | None = None
        # Every change start() makes to the process (its environment, stdout, moto's and boto3's
        # patches), each undone by stop() in reverse order.
        self._undo = contextlib.ExitStack()

    # ------------------------------------------------------------------ start / stop
    def start(self) -> dict[str, str]:
        from moto.server import ThreadedMotoServer

        taken = [port for port in range(self.port, self.port + 4) if self.port and not _free(port)]
        if taken:  # moto's server would wait forever for a port it cannot have
            raise PortInUse(
                f"127.0.0.1:{taken[0]} is in use: choose another --port (the cloud takes it and the 3 after)"
            )
        self._undo.callback(_restore_environment, dict(os.environ))
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Powertools Metrics warns on every request that recorded none (each GET): noise here.
        warnings.filterwarnings("ignore", "No application metrics to publish")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._output = FunctionOutput(self.workdir / "functions.log")
        capture_output(self._output)
        self._undo.callback(capture_output, None)
        for patch in (send_records_as_s3_does(), answer_cors_as_s3_does(), isolate_as_dynamodb_does()):
            self._undo.enter_context(patch)
        self._moto = ThreadedMotoServer("127.0.0.1", self._port(0), verbose=False)
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
        self.cloudwatch = LocalCloudWatch(boto3.session.Session().client("cloudwatch"))
        self._output.on_line = self.cloudwatch.log_line
        self._sagemaker = LocalSageMaker(
            self.workdir / "sagemaker",
            region=REGION,
            account=ACCOUNT,
            s3=self.s3,
            events=self.events,
            logs=boto3.client("logs"),
        )
        self._sagemaker_server = SageMakerServer(self._sagemaker)
        self.urls["sagemaker"] = self._sagemaker_server.start(port=self._port(1))
        self.dispatcher = EventSources(self.sqs, deliveries=self.deliveries)
        os.environ.update(endpoint_variables(self.urls))
        try:
            self.provision()
            self.cloudwatch.start_alarms()
            self.dispatcher.start()
            self.urls["api"] = self._start_api()
            if self._console_user:
                self.urls["console"] = self._start_console()
        except BaseException:
            self.stop()  # nothing left running behind a cloud that did not start
            raise
        self.outputs["ApiUrl"] = self.urls["api"]
        if self.announce:
            self.announce.parent.mkdir(parents=True, exist_ok=True)
            self.announce.write_text(
                json.dumps({"pid": os.getpid(), "urls": self.urls, "outputs": self.outputs, "region": REGION}, indent=2)
            )
        return self.urls

    def _port(self, service: int) -> int:
        return self.port + service if self.port else 0

    def stop(self) -> None:
        if self.dispatcher:
            self.dispatcher.stop()
        if self._sagemaker:
            self._sagemaker.stop()
        if self._sagemaker_server:
            self._sagemaker_server.stop()
        for server in (self._console, self._api):
            if server:
                server.shutdown()
        if self._gateway:
            self._gateway.close()
        if self._moto:  # once: stop() follows a failed start() too
            self._reset_moto()
            self._moto.stop()
            self._moto = None
        self._undo.close()
        if self._output:
            self._output.close()
            self._output = None
        if self.announce:
            with contextlib.suppress(FileNotFoundError, ValueError):
                if json.loads(self.announce.read_text()).get("pid") == os.getpid():
                    self.announce.unlink()

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
        code_uris: list[tuple[str, str]] = []  # (archive, where it goes)
        for logical, spec in cfn.resources(template, "Custom::TrainingCode").items():
            props = resolver.resolve(spec["Properties"])
            for archive, key, attribute in (("sourcedir", "Key", "Uri"), ("exportdir", "ExportKey", "ExportUri")):
                code_uris.append((f"{archive}.tar.gz", f"s3://{props['Bucket']}/{props[key]}"))
                resolver.attributes[(logical, attribute)] = code_uris[-1][1]
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
            "AWS::SageMaker::ModelPackageGroup",
            "AWS::Cognito::UserPool",
            "AWS::Cognito::UserPoolClient",
            "AWS::Cognito::UserPoolUser",
            "AWS::Cognito::UserPoolDomain",  # not created: local mode has no managed sign-in pages
            "AWS::ApiGateway::Account",  # not created: the local API Gateway writes no access logs
            "Custom::TrainingCode",
        }
        unknown = sorted({spec["Type"] for spec in resources.values()} - handled)
        if unknown:
            raise cfn.UnsupportedTemplate(f"local mode cannot provision {unknown}")

        notifications = provision_resources(template, resolver, client=boto3.client)
        self._resolver = resolver
        # Each function calls AWS with its own role (iam.py): on the default session, which the
        # functions' clients come from once _wire_functions has made them anew.
        iam = self.iam = Enforcer(
            function_roles(template, resolver, stack=STACK, account=ACCOUNT),
            invoking,
            region=REGION,
            account=ACCOUNT,
            assumed=service_roles(template, resolver, account=ACCOUNT),
        )
        session = boto3._get_default_session()
        self.iam.install(session)
        self._undo.callback(self.iam.uninstall, session)
        self.sagemaker.s3_as = lambda role: iam.client_as(role, "s3")
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

    def _wire_functions(self, resolver: cfn.Resolver, notifications: dict[str, list]) -> None:
        """Each function, its event sources and routes; then the one environment they all run in."""
        environments = set()
        for logical, spec in cfn.resources(self.template, "AWS::Serverless::Function").items():
            props = spec["Properties"]
            function = Function.from_template(self.template, logical)
            self.functions[logical] = function
            assert self.iam is not None
            role = self.iam.roles[logical]
            on_failure = self._on_failure_queue(props, role)
            environments.add(json.dumps(cfn.function_environment(self.template, resolver, logical), sort_keys=True))
            for event_name, event in props.get("Events", {}).items():
                event_props = resolver.resolve(event.get("Properties", {}))
                self._wire_event(
                    function, role, f"{logical}-{event_name}", event["Type"], event_props, on_failure, notifications
                )
        assert self.dispatcher is not None
        if self.visibility_timeout_s is not None:
            for source in self.dispatcher.sources:
                if source.kind == "sqs":
                    self.sqs.set_queue_attributes(
                        QueueUrl=source.queue_url, Attributes={"VisibilityTimeout": str(self.visibility_timeout_s)}
                    )
        self._enter_environment(environments)

    def _wire_event(
        self,
        function: Function,
        role: Role,
        name: str,
        kind: str,
        props: dict[str, Any],
        on_failure: str | None,
        notifications: dict[str, list],
    ) -> None:
        """One of a function's Events: an SQS event source, an S3 notification or EventBridge rule
        (delivered through a queue of their own), or an API route."""
        assert self.dispatcher is not None
        sources = self.dispatcher.sources
        if kind == "SQS":
            arn = props["Queue"]
            for action in SQS_POLLING:
                role.require(Request(action, arn), f"Lambda cannot poll {arn} for {function.name}")
            url = self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
            batch_size = int(props.get("BatchSize", 10))
            concurrency = int(props.get("ScalingConfig", {}).get("MaximumConcurrency", 2))
            partial = "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
            sources.append(Source(function, url, arn, "sqs", batch_size, concurrency, partial))
        elif kind == "S3":
            url, arn = self._dispatch_queue(f"{STACK}-{name}")
            sources.append(Source(function, url, arn, "event", on_failure=on_failure))
            events = props["Events"]
            notification: dict[str, Any] = {"QueueArn": arn, "Events": events if isinstance(events, list) else [events]}
            if "Filter" in props:
                notification["Filter"] = notification_filter(props["Filter"])
            notifications.setdefault(props["Bucket"], []).append(notification)
        elif kind == "EventBridgeRule":
            url, arn = self._dispatch_queue(f"{STACK}-{name}")
            sources.append(Source(function, url, arn, "event", on_failure=on_failure))
            self.events.put_rule(Name=f"{STACK}-{name}", EventPattern=json.dumps(props["Pattern"]))
            self.events.put_targets(Rule=f"{STACK}-{name}", Targets=[{"Id": "dispatch", "Arn": arn}])
        elif kind == "Api":
            self.routes.append(route_for(function, props))
        else:
            raise cfn.UnsupportedTemplate(f"local mode cannot deliver {kind} events ({name})")

    def _enter_environment(self, environments: set[str]) -> None:
        """The functions' one environment, set in this process (stop() undoes it)."""
        if len(environments) != 1:
            raise cfn.UnsupportedTemplate(
                "local mode runs every function in one process: their environments "
                "must be the same (put variables in Globals)"
            )
        os.environ.update(json.loads(environments.pop()))
        # Metrics stay on: their EMF lines go to functions.log, whose metrics the local CloudWatch
        # extracts and evaluates the stack's alarms on (cloudwatch.py).
        os.environ.update(
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="INFO" if self.verbose else "WARNING",
        )
        from vista_app import aws, config

        aws.reset()
        config.settings.cache_clear()

    def _on_failure_queue(self, props: dict[str, Any], role: Role) -> str | None:
        """The URL of a function's asynchronous OnFailure destination queue, if it has one: Lambda
        sends there with the function's role (invocation-async-retain-records.html)."""
        destination = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
        target = destination.get("Destination", {}).get("Fn::GetAtt", [None])[0]
        if not target:
            return None
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-{target}"
        role.require(Request("sqs:SendMessage", arn), "Lambda cannot send failed invocations to their destination")
        return self.sqs.get_queue_url(QueueName=f"{STACK}-{target}")["QueueUrl"]

    def _dispatch_queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "10"})["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _publish_training_code(self, uris: list[tuple[str, str]]) -> None:
        """What `sam build` + the TrainingCode custom resource do: the same Makefile target packs
        training_job/, and the archive goes to the S3 location each resource names."""
        with tempfile.TemporaryDirectory() as artifacts:
            pack_training_code(Path(artifacts))
            for archive, uri in uris:
                bucket, _, key = uri.removeprefix("s3://").partition("/")
                self.s3.upload_file(str(Path(artifacts) / archive), bucket, key)

    # ------------------------------------------------------------------ API Gateway
    def _start_api(self) -> str:
        from werkzeug.serving import make_server

        assert self._resolver is not None
        api = self.template["Resources"]["Api"]["Properties"]
        self._gateway = ApiGateway(self.routes, self._resolver.resolve(api), self.functions)
        self._api = make_server("127.0.0.1", self._port(2), self._gateway, threaded=True)
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

        from vista.local.console_proxy import ConsoleProxy

        proxy = ConsoleProxy(self.urls["api"], self.console_session)
        self._console = make_server("127.0.0.1", self._port(3), proxy, threaded=True)
        threading.Thread(target=self._console.serve_forever, daemon=True, name="console").start()
        origin = f"http://127.0.0.1:{self._console.server_port}"
        self._allow_cors_from(origin)
        return f"{origin}/"

    def _allow_cors_from(self, console: str) -> None:
        """The buckets' CORS rules name the API's origin, where the console's pages come from on AWS;
        here they come from the console's own address."""
        import boto3

        assert self._resolver is not None
        api = self._resolver.resolve({"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"})
        s3 = boto3.client("s3")
        for logical, spec in cfn.resources(self.template, "AWS::S3::Bucket").items():
            if "CorsConfiguration" not in spec["Properties"]:
                continue
            bucket = self._resolver.refs[logical]
            rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
            for rule in rules:
                rule["AllowedOrigins"] = [console if o == api else o for o in rule["AllowedOrigins"]]
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})

    @property
    def sagemaker(self) -> LocalSageMaker:
        assert self._sagemaker is not None
        return self._sagemaker

    @property
    def sagemaker_server(self) -> SageMakerServer:
        assert self._sagemaker_server is not None
        return self._sagemaker_server


def _restore_environment(environment: dict[str, str]) -> None:
    """The process's environment as it was, and no client or setting left pointing at the cloud."""
    os.environ.clear()
    os.environ.update(environment)
    from vista_app import aws, config

    aws.reset()
    config.settings.cache_clear()
