"""Which Vista the `vista` command talks to: the local cloud (`vista up`), or a deployed stack
(`--stack NAME`), whose names come from its CloudFormation Outputs."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from vista.errors import ApiError, CommandError
from vista.project import ROOT, checkout

# Where a running local cloud (`vista up`) says where it listens; read here, written by it.
STATE_FILE = ROOT / ".vista" / "local.json"


def running_cloud() -> dict[str, Any] | None:
    """What the checkout's running local cloud announced (its pid, URLs, outputs and region), or
    None when none runs (a file left by a cloud that was killed is not one)."""
    try:
        state = json.loads(STATE_FILE.read_text())
        os.kill(state["pid"], 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError):
        return None
    except PermissionError:  # alive, another user's
        pass
    return state


def endpoint_variables(urls: dict[str, str]) -> dict[str, str]:
    """Where each service of a local cloud answers, as the AWS CLI and SDKs read it (their
    AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> variables): moto for every service but
    SageMaker's two, which the local SageMaker serves."""
    return {
        "AWS_ENDPOINT_URL": urls["aws"],
        "AWS_ENDPOINT_URL_SAGEMAKER": urls["sagemaker"],
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": urls["sagemaker"],
    }


def exports(urls: dict[str, str]) -> str:
    """The variables that point the AWS CLI and SDKs at a local cloud, as one `export` line's words."""
    variables = {
        **endpoint_variables(urls),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return " ".join(f"{k}={v}" for k, v in variables.items())


@dataclass
class Target:
    outputs: dict[str, str]
    region: str
    session: Any

    @classmethod
    def local(cls) -> Target:
        checkout("the local cloud")
        state = running_cloud()
        if state is None:
            raise CommandError("the local cloud is not running: start it with `vista up` (or pass --stack)")
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 (moto takes any credentials)
            AWS_DEFAULT_REGION=state["region"],
            **endpoint_variables(state["urls"]),
        )
        import boto3

        return cls(state["outputs"], state["region"], boto3.Session(region_name=state["region"]))

    @classmethod
    def stack(cls, name: str, region: str | None, profile: str | None) -> Target:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            session = boto3.Session(region_name=region, profile_name=profile)
            stack = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        except (ClientError, BotoCoreError) as error:
            raise CommandError(f"cannot read stack {name}: {error}") from None
        return cls({o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}, session.region_name, session)

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def output(self, name: str) -> str:
        try:
            return self.outputs[name]
        except KeyError:
            raise CommandError(f"the stack has no output {name}") from None

    def api(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        """Call the REST API with a SigV4-signed request (the API takes no other); returns the JSON answer."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        url = self.output("ApiUrl").rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        headers = {"Content-Type": content_type} if content_type else {}
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(self.session.get_credentials().get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        prepared = urllib.request.Request(  # noqa: S310 (the stack's own API URL)
            url, data=body, method=method, headers=dict(request.headers.items())
        )
        try:
            with urllib.request.urlopen(prepared, timeout=90) as answer:  # noqa: S310 (the stack's own API URL)
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("message", error.reason)
            except ValueError:
                message = error.reason
            raise ApiError(method, path, error.code, message) from None
        except urllib.error.URLError as error:
            raise CommandError(f"cannot reach the API at {url}: {error.reason}") from None
