"""Local mode held to oracles nobody here wrote: the real SageMaker training toolkit, botocore's
paginators and error codes, TF Serving's REST rules, AWS's sample events, Lambda's and API Gateway's
documented shapes. Each test fails on a local answer AWS would not give (the issue that asked for
them lists what each caught).

The training jobs here run tiny scripts of their own (not train.py) in the local script-mode
container, so each takes a second or two.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers.oracles import keys
from tests.helpers.stack import BUCKET, EVENTS, ROOT

TOOLKIT_PYTHON = ROOT / ".venv-toolkit" / "bin" / "python"
SDK_PYTHON = ROOT / ".venv-sdk" / "bin" / "python"


def sagemaker() -> Any:
    return boto3.client("sagemaker")


def start(
    name: str, files: dict[str, str], hyperparameters: dict[str, str] | None = None, instances: int = 1, **extra: Any
) -> str:
    """A training job of the local container running `files` (train.py among them) as its source."""
    from vista_app.config import settings

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, text in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    key = f"artifacts/code/oracles/{name}/sourcedir.tar.gz"  # where the training role reads code
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"datasets/oracles/{name}/a.txt", Body=b"a")
    sagemaker().create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "local", "TrainingInputMode": "File"},
        RoleArn=settings().training_role_arn,
        HyperParameters={
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/{key}"),
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_region": json.dumps("us-east-1"),
            **(hyperparameters or {}),
        },
        InputDataConfig=[
            {
                "ChannelName": "training",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/datasets/oracles/{name}/"}
                },
            }
        ],
        OutputDataConfig=extra.pop("OutputDataConfig", {"S3OutputPath": f"s3://{BUCKET}/artifacts/training/oracles"}),
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": instances, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        **extra,
    )
    return name


def ended(name: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = sagemaker().describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"{name} did not end")


DUMP_ENVIRONMENT = """
import json, os, sys
seen = {k: v for k, v in os.environ.items() if k.startswith(("SM_", "TF_")) or k in ("TRAINING_JOB_NAME", "AWS_REGION")}
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], f"seen-{os.environ['SM_CURRENT_HOST']}.json"), "w") as f:
    json.dump({"environment": seen, "argv": sys.argv[1:]}, f)
"""
# What the real toolkit makes of the same /opt/ml: Environment().to_env_vars() and to_cmd_args().
TOOLKIT = """
import json, sys
from sagemaker_training import environment
env = environment.Environment()
print(json.dumps({"environment": env.to_env_vars(), "argv": env.to_cmd_args()}))
"""


@pytest.mark.skipif(not TOOLKIT_PYTHON.exists(), reason="make creates .venv-toolkit (sagemaker-training)")
@pytest.mark.parametrize("instances", [1, 2])
def test_the_container_gives_the_script_what_the_training_toolkit_gives_it(cloud: Any, instances: int) -> None:
    from vista.local.sagemaker.container import FRAMEWORK_MODULE

    hyperparameters = {"epochs": "3", "augment": "true"}
    if instances > 1:  # as the SDK sends distribution={"multi_worker_mirrored_strategy": {"enabled": True}}
        hyperparameters["sagemaker_multi_worker_mirrored_strategy_enabled"] = "true"
    job = start(f"oracle-environment-{instances}", {"train.py": DUMP_ENVIRONMENT}, hyperparameters, instances)
    assert ended(job)["TrainingJobStatus"] == "Completed"
    hosts = [f"algo-{i + 1}" for i in range(instances)]
    for index, host in enumerate(hosts):
        ml = cloud.sagemaker.container.workdir / "training" / job / host / "opt" / "ml"
        ours = json.loads((ml / "output" / "data" / f"seen-{host}.json").read_text())
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AWS_"))}
        answer = subprocess.run(
            [str(TOOLKIT_PYTHON), "-c", TOOLKIT],
            env={
                **environment,
                "SAGEMAKER_BASE_DIR": str(ml),
                "TRAINING_JOB_NAME": job,
                "SAGEMAKER_TRAINING_MODULE": FRAMEWORK_MODULE,  # as the TF training image sets it
            },
            capture_output=True,
            text=True,
            check=True,
            cwd=ml / "code",
        )
        theirs = json.loads(answer.stdout.strip().splitlines()[-1])
        assert ours["argv"] == theirs["argv"]
        sm = {k: v for k, v in ours["environment"].items() if k.startswith("SM_")}
        assert sm == theirs["environment"]
        assert ours["environment"]["TRAINING_JOB_NAME"] == job and ours["environment"]["AWS_REGION"] == "us-east-1"
        assert json.loads(sm["SM_RESOURCE_CONFIG"])["current_host"] == host
        if instances == 1:
            assert "TF_CONFIG" not in ours["environment"]
            continue
        # The TF container's _build_tf_config_for_mwms, each host at its own loopback address.
        config = json.loads(ours["environment"]["TF_CONFIG"])
        assert config["task"] == {"index": index, "type": "worker"} and config["environment"] == "cloud"
        assert [w.rsplit(":", 1)[0] for w in config["cluster"]["worker"]] == ["127.0.0.2", "127.0.0.3"]


def test_two_instances_writing_the_same_output_file_fail_the_job_with_the_reason(cloud: Any) -> None:
    script = "import os\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'model.txt'), 'w').write('mine')\n"
    described = ended(start("oracle-clash", {"train.py": script}, instances=2))
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        "ClientError: algo-1 and algo-2 both wrote model/model.txt: "
        "save the model and outputs from one instance (the chief) only"
    )


def test_a_crash_fails_the_job_with_the_toolkits_execute_user_script_error(cloud: Any) -> None:
    job = start("oracle-crash", {"train.py": "import sys\nprint('starting')\nraise ValueError('no classes found')\n"})
    described = ended(job)
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    # process.watch: the ErrorMessage starts at the first stderr line naming an error (here the
    # traceback's source line), each line once.
    assert reason.startswith('AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "raise ValueError(')
    assert "ValueError: no classes found" in reason
    assert reason.endswith('train.py"') and "Command " in reason


def test_requirements_txt_is_installed_before_the_script_runs(cloud: Any) -> None:
    job = start("oracle-requirements", {"train.py": "print('never')\n", "requirements.txt": "not a requirement ===\n"})
    described = ended(job)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("AlgorithmError: InstallRequirementsError:\nExitCode 1")
    assert "Invalid requirement" in described["FailureReason"]


def test_a_job_has_the_training_images_packages_not_the_development_machines(cloud: Any) -> None:
    # The TF training image has Pillow but no HEIF decoder (aws/deep-learning-containers,
    # tensorflow/training/docker/2.19): a job that imports one without installing it fails, as on AWS
    job = start("oracle-image", {"train.py": "import PIL\nimport pi_heif\n"})
    described = ended(job)
    assert described["TrainingJobStatus"] == "Failed"
    assert "ModuleNotFoundError: No module named 'pi_heif'" in described["FailureReason"]


def test_stop_training_job_stops_and_an_ended_job_cannot_be_stopped(cloud: Any) -> None:
    job = start("oracle-stop", {"train.py": "import time\nprint('training', flush=True)\ntime.sleep(120)\n"})
    while sagemaker().describe_training_job(TrainingJobName=job)["SecondaryStatus"] != "Training":
        time.sleep(0.1)
    sagemaker().stop_training_job(TrainingJobName=job)
    assert sagemaker().describe_training_job(TrainingJobName=job)["TrainingJobStatus"] in ("Stopping", "Stopped")
    assert ended(job, 30)["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as refused:
        sagemaker().stop_training_job(TrainingJobName=job)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as unknown:
        sagemaker().stop_training_job(TrainingJobName="oracle-no-such-job")
    assert unknown.value.response["Error"]["Code"] == "ValidationException"


def test_list_training_jobs_pages_filters_and_sorts_as_the_api_reference_says(cloud: Any) -> None:
    names = [start(f"oracle-list-{i}", {"train.py": "print('done')\n"}) for i in range(3)]
    for name in names:
        ended(name)
    pages = list(
        sagemaker()
        .get_paginator("list_training_jobs")
        .paginate(NameContains="oracle-list-", PaginationConfig={"PageSize": 1})
    )
    assert len(pages) == 3 and [p["TrainingJobSummaries"][0]["TrainingJobName"] for p in pages] == names  # Ascending
    newest = sagemaker().list_training_jobs(NameContains="oracle-list-", SortOrder="Descending", MaxResults=1)
    assert newest["TrainingJobSummaries"][0]["TrainingJobName"] == names[-1] and "NextToken" in newest
    assert (
        sagemaker().list_training_jobs(NameContains="oracle-list-", StatusEquals="Failed")["TrainingJobSummaries"] == []
    )
    with pytest.raises(ClientError):
        sagemaker().list_training_jobs(NextToken="not-a-token")


def test_the_model_registry_versions_packages_as_the_api_reference_says(cloud: Any) -> None:
    # The stack's group, made from the template as CloudFormation makes it
    group = sagemaker().describe_model_package_group(ModelPackageGroupName="vista-models")
    assert group["ModelPackageGroupArn"].endswith(":model-package-group/vista-models")
    container = {"Image": "img", "ModelDataUrl": f"s3://{BUCKET}/artifacts/training/x/output/model.tar.gz"}

    def create(**extra: Any) -> str:
        spec = {"Containers": [container]}
        return sagemaker().create_model_package(
            ModelPackageGroupName="vista-models", InferenceSpecification=spec, **extra
        )["ModelPackageArn"]

    # versions count from 1 in the group; a repeated ClientToken is the same call, not a new version
    first, again, second = create(ClientToken="t-1"), create(ClientToken="t-1"), create(ClientToken="t-2")
    assert (first, second) == (f"{group['ModelPackageGroupArn'].replace('-group', '')}/1", first[:-1] + "2")
    assert again == first
    described = sagemaker().describe_model_package(ModelPackageName=first)
    assert (described["ModelPackageVersion"], described["ModelApprovalStatus"]) == (1, "PendingManualApproval")
    assert described["ModelPackageName"] == described["ModelPackageGroupName"] == "vista-models"
    sagemaker().update_model_package(ModelPackageArn=second, ModelApprovalStatus="Approved", ApprovalDescription="ok")
    approved = sagemaker().list_model_packages(ModelPackageGroupName="vista-models", ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [second]
    assert sagemaker().describe_model_package(ModelPackageName="vista-models/2")["ApprovalDescription"] == "ok"
    # what SageMaker refuses: both names, a group that does not exist, a group made twice
    for refused in (
        lambda: sagemaker().create_model_package(ModelPackageName="p", ModelPackageGroupName="vista-models"),
        lambda: sagemaker().create_model_package(ModelPackageGroupName="nope"),
        lambda: sagemaker().create_model_package_group(ModelPackageGroupName="vista-models"),
        lambda: sagemaker().update_model_package(ModelPackageArn=first[:-1] + "9", ModelApprovalStatus="Approved"),
    ):
        with pytest.raises(ClientError) as error:
            refused()
        assert error.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.skipif(not SDK_PYTHON.exists(), reason="make creates .venv-sdk (sagemaker-core)")
def test_the_sagemaker_sdk_reads_the_local_resources_into_its_own_shapes(cloud: Any) -> None:
    from vista_app.config import settings

    # GIVEN a job that completed, one that crashed, a model and a serverless endpoint config
    done, crashed = (
        start("oracle-sdk", {"train.py": "print('done')\n"}),
        start("oracle-sdk-crash", {"train.py": "raise SystemExit(3)\n"}),
    )
    ended(done), ended(crashed)
    sagemaker().create_model(
        ModelName="oracle-sdk-model",
        ExecutionRoleArn=settings().training_role_arn,
        PrimaryContainer={"Image": settings().inference_image, "ModelDataUrl": f"s3://{BUCKET}/none/model.tar.gz"},
    )
    sagemaker().create_endpoint_config(
        EndpointConfigName="oracle-sdk-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "oracle-sdk-model",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
            }
        ],
    )
    # WHEN the SageMaker SDK reads them (its resource classes validate every field they parse)
    spec = {
        "region": "us-east-1",
        "training_jobs": [done, crashed],
        "models": ["oracle-sdk-model"],
        "endpoint_configs": ["oracle-sdk-config"],
    }
    result = subprocess.run(
        [str(SDK_PYTHON), str(ROOT / "tests" / "helpers" / "sdk_reads.py"), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # THEN it reads what boto3 reads
    assert result.returncode == 0, result.stderr[-3000:]
    read = json.loads(result.stdout)
    assert (
        read["training_jobs"][done]["status"] == "Completed" and read["training_jobs"][done]["secondary"] == "Completed"
    )
    assert read["training_jobs"][crashed]["status"] == "Failed"
    assert read["training_jobs"][crashed]["failure_reason"].startswith("AlgorithmError: ExecuteUserScriptError")
    assert read["training_jobs"][done]["hyperparameters"]["sagemaker_program"] == '"train.py"'
    assert read["models"] == {"oracle-sdk-model": settings().inference_image}
    assert read["endpoint_configs"] == {"oracle-sdk-config": "oracle-sdk-model"}
    every = [
        job["TrainingJobName"]
        for page in sagemaker().get_paginator("list_training_jobs").paginate()
        for job in page["TrainingJobSummaries"]
    ]
    assert sorted(read["listed"]) == sorted(every) and {done, crashed} <= set(every)


def test_an_identical_request_dropped_again_is_a_second_job_as_on_aws(cloud: Any) -> None:
    """S3 gives every put its own versionId and job names come from it (moto's notifications carry
    none: the dispatcher completes them), so the same bytes again are a new request, not a redelivery."""
    from vista_app.config import settings
    from vista_app.names import job_name

    key = "jobs/oracle again.json"
    body = json.dumps({"dataset": "datasets/oracle-none", "architecture": "base_cnn", "instance_type": "ml.m5.large"})
    versions = [boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"] for _ in range(2)]
    jobs = boto3.resource("dynamodb").Table(settings().jobs_table)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        mine = [i for i in jobs.scan()["Items"] if i.get("source") == f"s3://{BUCKET}/{key}"]
        if len(mine) == 2 and all(i["status"] == "Failed" for i in mine):  # each recorded, then refused
            break
        time.sleep(0.5)
    assert sorted(i["name"] for i in mine) == sorted(job_name("vista", f"{BUCKET}/{key}/{v}") for v in versions)
    assert all(i["status"] == "Failed" and "datasets/oracle-none" in i["failure_reason"] for i in mine)


def test_invoking_an_endpoint_that_does_not_exist_is_sagemaker_runtimes_validation_error(cloud: Any) -> None:
    with pytest.raises(ClientError) as missing:
        boto3.client("sagemaker-runtime").invoke_endpoint(EndpointName="nothing-here", Body=b"{}")
    error = missing.value.response
    assert error["Error"]["Code"] == "ValidationError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == "Endpoint nothing-here of account 123456789012 not found."


def test_job_state_change_events_carry_what_aws_sample_events_carry() -> None:
    from vista.local.sagemaker.state import TRAINING_EVENT_KEYS, TUNING_EVENT_KEYS, TrainingJob, TuningJob, event_detail

    for sample, detail_keys, make in (
        ("aws_sagemaker_training_job_state_change", TRAINING_EVENT_KEYS, TrainingJob),
        ("aws_sagemaker_tuning_job_state_change", TUNING_EVENT_KEYS, TuningJob),
    ):
        expected = json.loads((EVENTS / f"{sample}.json").read_text())["detail"]
        request = {k: v for k, v in expected.items() if k in ("TrainingJobName", "HyperParameters")}
        request.update(
            {
                "HyperParameterTuningJobName": "x",
                "TrainingJobDefinition": expected.get("TrainingJobDefinition", {}),
                "AlgorithmSpecification": expected.get("AlgorithmSpecification", {}),
                "RoleArn": "r",
                "InputDataConfig": [],
                "OutputDataConfig": {"S3OutputPath": "s3://b/p"},
                "ResourceConfig": {"InstanceType": "ml.m5.large"},
                "StoppingCondition": {},
            }
        )
        job = make(request, "arn")
        job.ended = job.started = job.created  # a finished job, as in the sample
        detail = event_detail(job.describe(), detail_keys, [{"Key": "project", "Value": "vista"}])
        assert set(detail) <= set(expected) | {"FailureReason"}, set(detail) - set(expected)
        assert detail["Tags"] == {"project": "vista"}
        if make is TrainingJob:  # the sample's transitions: a list of {Status, StartTime, EndTime, StatusMessage}
            assert {"SecondaryStatusTransitions", "SecondaryStatus"} <= set(detail)
            assert keys(detail["SecondaryStatusTransitions"]) <= keys(expected["SecondaryStatusTransitions"]) | {
                "[].Status",
                "[].StartTime",
                "[].EndTime",
                "[].StatusMessage",
            }


def slow_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    time.sleep(1.5)
    return {"statusCode": 200, "body": "late"}


def echo_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps(event)}


def context_authorizer(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return {
        "principalId": "someone",
        "policyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        "context": {"admin": True, "quota": 5, "name": "x"},
    }


def gateway(handler: str, *, timeout_s: float = 29.0, authorizer: bool = False, method: str = "get") -> Any:
    from werkzeug.test import Client

    from vista.local.apigateway import ApiGateway, route_for
    from vista.local.lambda_runtime import Function

    function = Function("Api", f"tests.e2e.test_oracles.{handler}", 30, 128)
    route = {"Path": "/things", "Method": method, **({"Auth": {"Authorizer": "Check"}} if authorizer else {})}
    api = {
        "Auth": {
            "Authorizers": {"Check": {"FunctionArn": "arn:aws:lambda:us-east-1:1:function:vista-Check", "Identity": {}}}
        }
    }
    check = Function("Check", "tests.e2e.test_oracles.context_authorizer", 3, 128)
    return Client(ApiGateway([route_for(function, route)], api, {"Check": check}, integration_timeout_s=timeout_s))


def test_api_gateway_rest_rules_query_strings_authorizer_context_and_the_integration_timeout() -> None:
    event = json.loads(gateway("echo_handler", authorizer=True).get("/v1/things?size=1&size=2").text)
    assert event["queryStringParameters"] == {"size": "2"}  # REST keeps the last
    assert event["multiValueQueryStringParameters"] == {"size": ["1", "2"]}
    granted = event["requestContext"]["authorizer"]
    latency = granted.pop("integrationLatency")  # API Gateway's: the authorizer's time, a number of ms
    assert isinstance(latency, int) and latency >= 0
    assert granted == {"admin": "true", "quota": "5", "name": "x", "principalId": "someone"}
    late = gateway("slow_handler", timeout_s=0.5).get("/v1/things")
    assert late.status_code == 504 and late.json == {"message": "Endpoint request timed out"}


def test_api_gateway_and_lambda_refuse_payloads_over_their_limits_as_aws_does() -> None:
    client = gateway("echo_handler", method="post")
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=local"}
    assert client.post("/v1/things", data=b"a" * 1000, headers=signed).status_code == 200
    over_lambda = client.post("/v1/things", data=b"a" * (6 * 1024 * 1024), headers=signed)
    assert over_lambda.status_code == 413 and over_lambda.json == {"message": "Request Too Long"}
    over_gateway = client.post("/v1/things", data=b"a" * (10 * 1024 * 1024 + 1), headers=signed)
    assert over_gateway.status_code == 413 and over_gateway.text == "HTTP content length exceeded 10485760 bytes."


def test_tf_serving_accepts_and_refuses_what_its_rest_api_does(tmp_path: Path) -> None:
    import tensorflow as tf

    from vista.local.sagemaker.serving import ServingError, predict

    class Lengths(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
        def serve(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"length": tf.strings.length(image_bytes), "label": image_bytes}

    module = Lengths()
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={"serving_default": module.serve})
    model = tf.saved_model.load(str(tmp_path / "1"))

    def ask(body: dict[str, Any]) -> dict[str, Any]:
        return predict(model, json.dumps(body).encode())

    b64 = {"b64": "YWJj"}  # "abc"
    row = {"predictions": [{"label": "abc", "length": 3}]}
    assert ask({"instances": [b64]}) == row
    assert ask({"instances": [{"image_bytes": b64}]}) == row  # the named-input row form
    assert ask({"inputs": {"image_bytes": [b64]}}) == {"outputs": {"label": ["abc"], "length": [3]}}  # columnar
    assert ask({"inputs": [b64]}) == {"outputs": {"label": ["abc"], "length": [3]}}
    for refused, words in (
        ({"instances": [b64], "inputs": [b64]}, "only one of 'inputs' or 'instances'"),
        ({"signature_name": "nope", "instances": [b64]}, 'signature name: "nope" not found'),
        ({"instances": []}, "No values in 'instances'"),
        ({}, "Missing 'inputs' or 'instances' key"),
    ):
        with pytest.raises(ServingError, match=words):
            ask(refused)


def test_a_proxy_event_has_every_member_of_api_gateways_sample() -> None:
    sample = json.loads((EVENTS / "aws_apigateway_aws_proxy.json").read_text())
    event = json.loads(gateway("echo_handler").get("/v1/things", headers={"Authorization": "AWS4-HMAC-SHA256 x"}).text)
    wanted = {k for k in keys(sample["requestContext"], ".requestContext")}
    assert wanted - keys(event["requestContext"], ".requestContext") == set()


def test_a_training_job_says_each_secondary_status_it_went_through(cloud: Any) -> None:
    job = start("oracle-transitions", {"train.py": "print('done')\n"})
    described = ended(job)
    transitions = described["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(t["StatusMessage"] for t in transitions)
    assert all(t["EndTime"] >= t["StartTime"] for t in transitions[:-1])


CONTAINER_VARIABLES = """
import json, os
names = ("AWS_REGION", "AWS_DEFAULT_REGION", "TRAINING_JOB_NAME", "SAGEMAKER_JOB_NAME", "TRAINING_JOB_ARN")
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "platform.json"), "w") as f:
    json.dump({k: os.environ.get(k) for k in names}, f)
"""


def test_the_container_has_the_platforms_own_variables(cloud: Any) -> None:
    job = start("oracle-platform", {"train.py": CONTAINER_VARIABLES})
    described = ended(job)
    assert described["TrainingJobStatus"] == "Completed"
    ml = cloud.sagemaker.container.workdir / "training" / job / "algo-1" / "opt" / "ml"
    seen = json.loads((ml / "output" / "data" / "platform.json").read_text())
    assert seen == {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TRAINING_JOB_NAME": job,
        "SAGEMAKER_JOB_NAME": job,
        "TRAINING_JOB_ARN": described["TrainingJobArn"],
    }


REACH_OUT = """
import json, os, urllib.request
try:
    urllib.request.urlopen("https://storage.googleapis.com/tensorflow/keras-applications/", timeout=10)
    said = "reached"
except OSError as error:
    said = f"refused: {error}"
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "network.json"), "w") as f:
    json.dump(said, f)
"""


def test_a_job_with_network_isolation_cannot_reach_out(cloud: Any) -> None:
    job = start("oracle-isolated", {"train.py": REACH_OUT}, EnableNetworkIsolation=True)
    assert ended(job)["TrainingJobStatus"] == "Completed"
    assert sagemaker().describe_training_job(TrainingJobName=job)["EnableNetworkIsolation"] is True
    ml = cloud.sagemaker.container.workdir / "training" / job / "algo-1" / "opt" / "ml"
    said = json.loads((ml / "output" / "data" / "network.json").read_text())
    assert said.startswith("refused:") and "Connection refused" in said
