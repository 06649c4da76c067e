"""The script-mode training container: what SageMaker's TensorFlow training image does with a job.

Per aws/sagemaker-training-toolkit (`entry_point.run`, `modules.install_requirements`, `process.check_error`,
`files.write_failure_file`) and the platform around it:
- channels are downloaded from S3 into /opt/ml/input/data/<channel>, the three config files written,
  `sagemaker_submit_directory` extracted into the code folder;
- a `requirements.txt` beside the entry point is installed with `python -m pip install -r
  requirements.txt` before the script runs (its failure is an InstallRequirementsError);
- the script runs with the toolkit's SM_* variables and sorted `--name value` arguments (toolkit.py),
  and the platform's TRAINING_JOB_NAME, SAGEMAKER_JOB_NAME, TRAINING_JOB_ARN, AWS_REGION and
  AWS_DEFAULT_REGION; stdout and stderr both go to the job's
  CloudWatch stream, where the MetricDefinitions' regexes read them;
- a non-zero exit is an ExecuteUserScriptError whose ErrorMessage is the script's stderr from the first
  line that names a Python (or TensorFlow) error on, and whose text goes to /opt/ml/output/failure
  unless the script wrote that file itself; SageMaker answers "AlgorithmError: " + its first 1024
  characters as FailureReason (the file's contract, "your-algorithms-training-algo").
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vista.local.sagemaker import toolkit
from vista.local.sagemaker.image import image_site, instance_python
from vista.local.sagemaker.state import TrainingJob, now

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# The TF training image's Dockerfile: ENV SAGEMAKER_TRAINING_MODULE (the toolkit's framework_module).
FRAMEWORK_MODULE = "sagemaker_tensorflow_container.training:main"
# sagemaker_training/__init__.py, _PYTHON_ERRORS_: a stderr line naming one starts the ErrorMessage
# (process.watch also watches TensorFlow's errors_impl class names and MPI's; these cover Vista's).
PYTHON_ERRORS = (
    "Invalid requirement",
    *"""
BaseException Exception ArithmeticError AssertionError AttributeError BlockingIOError
BrokenPipeError BufferError ChildProcessError ConnectionAbortedError ConnectionError
ConnectionRefusedError ConnectionResetError EOFError EnvironmentError FileExistsError
FileNotFoundError FloatingPointError IOError ImportError IndentationError IndexError
InterruptedError IsADirectoryError KeyError LookupError MemoryError ModuleNotFoundError NameError
NotADirectoryError NotImplementedError OSError OverflowError PermissionError ProcessLookupError
RecursionError ReferenceError RuntimeError SyntaxError SystemError TabError TimeoutError TypeError
UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError
ValueError ZeroDivisionError ResourceExhaustedError OutOfRangeError InvalidArgumentError
""".split(),  # noqa: SIM905 (the toolkit's list, as it reads)
)


def s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass
class Host:
    """One instance of a job: its name (algo-N), its /opt/ml, the script's environment, its log."""

    name: str
    ml: Path
    python: str  # the image's Python, fresh for this instance (image.py)
    arguments: list[str]  # the script's, as the toolkit makes them (checkpoint paths are this host's)
    environment: dict[str, str]
    log_path: Path
    stream: Callable[[str], None]


def loopback_addresses(hosts: list[str]) -> dict[str, str]:
    """Where each host of a local multi-instance job listens: 127.0.0.2, .3, ... (one loopback address a
    host, as each instance has its own) and a port free there now, never a fixed one."""
    addresses = {}
    for index, host in enumerate(hosts):
        address = f"127.0.0.{index + 2}"
        with socket.socket() as probe:
            probe.bind((address, 0))
            addresses[host] = f"{address}:{probe.getsockname()[1]}"
    return addresses


class ScriptModeContainer:
    def __init__(self, workdir: Path, *, s3_as: Callable[[str], Any], logs: Any, region: str) -> None:
        """`s3_as(role_arn)`: an S3 client acting as that role: SageMaker reads a job's channels and
        code and writes its outputs with the job's RoleArn."""
        self.workdir, self.s3_as, self.logs, self.region = workdir, s3_as, logs, region
        self.image = image_site(workdir / "training-image")

    def run(self, job: TrainingJob, emit: Callable[[TrainingJob], None]) -> tuple[str, str]:
        """Run the job to its end on each of its instances: (TrainingJobStatus, SecondaryStatus),
        FailureReason set on failure."""
        request = job.request
        s3 = self.s3_as(request["RoleArn"])
        root = self.workdir / "training" / job.name
        shutil.rmtree(root, ignore_errors=True)
        job.started = now()
        job.secondary = "Downloading"
        emit(job)
        hyperparameters = dict(request.get("HyperParameters", {}))
        values = toolkit.decoded(hyperparameters)  # as the toolkit reads hyperparameters.json, once
        own, _ = toolkit.split(values)
        code, program = own.get("sagemaker_submit_directory", ""), own.get("sagemaker_program", "train.py")
        if not str(code).startswith("s3://"):
            job.failure = "ClientError: sagemaker_submit_directory must be an s3:// URI"
            return "Failed", "Failed"
        names = [f"algo-{i + 1}" for i in range(int(request["ResourceConfig"].get("InstanceCount", 1)))]
        addresses = loopback_addresses(names) if len(names) > 1 else {}
        checkpoint = request.get("CheckpointConfig")
        hosts = [self._host(s3, job, root / name, name, names, addresses, values, own) for name in names]
        for host in hosts:
            if (host.ml / "code" / "requirements.txt").exists():
                command = [host.python, "-m", "pip", "install", "-r", "requirements.txt"]
                [(exit_code, stderr)] = self._run(job, [command], [host])
                if exit_code != 0:
                    self._fail(job, host.ml, "InstallRequirementsError", exit_code, stderr, command)
                    return "Failed", "Failed"
        commands = [[host.python, str(program), *host.arguments] for host in hosts]
        results = [(0, "")] * len(hosts)
        while job.status != "Stopping":  # StopTrainingJob before the script started: nothing runs
            job.secondary = "Training"
            emit(job)
            results = self._run(job, commands, hosts)
            if checkpoint:  # every instance syncs its checkpoint folder to the one S3 URI
                for host in hosts:
                    upload_prefix(s3, host.ml / "checkpoints", checkpoint["S3Uri"])
            if not job.interrupted or job.secondary == "Stopping":
                break
            # A reclaimed spot instance: SageMaker starts another with the checkpoints synced back.
            job.interrupted = False
            job.secondary = "Interrupted"
            emit(job)
            for host in hosts:
                shutil.rmtree(host.ml / "checkpoints", ignore_errors=True)
                if checkpoint:
                    download_prefix(s3, checkpoint["S3Uri"], host.ml / "checkpoints")
            job.secondary = "Restarting"
            emit(job)
        stopped = "Stopping" in (job.status, job.secondary)
        failed = [(h, c, e, cmd) for h, (c, e), cmd in zip(hosts, results, commands, strict=True) if c]
        if failed and not stopped:  # the first instance that failed on its own, not one stopped for it
            host, exit_code, stderr, command = next((f for f in failed if f[1] > 0), failed[0])
            self._fail(job, host.ml, "ExecuteUserScriptError", exit_code, stderr, command)
            return "Failed", "Failed"
        # A stopped job's model and output are uploaded as they are (SageMaker stops it with SIGTERM
        # and saves what /opt/ml/model holds), so a trial stopped before it exported has an empty model.
        job.secondary = "Uploading"
        output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        bucket, prefix = s3_parts(f"{output}/{job.name}/output")
        for archive, folder in (("model.tar.gz", "model"), ("output.tar.gz", "output/data")):
            try:
                body = self._archive([host.ml / folder for host in hosts])
            except ValueError as clash:
                job.failure = f"ClientError: {clash}"
                return "Failed", "Failed"
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{archive}".lstrip("/"), Body=body)
        return ("Stopped", "Stopped") if stopped else ("Completed", "Completed")

    def _host(
        self,
        s3: Any,
        job: TrainingJob,
        root: Path,
        name: str,
        names: list[str],
        addresses: dict[str, str],
        values: dict[str, Any],
        own: dict[str, Any],
    ) -> Host:
        """One instance made ready: its channels (FullyReplicated: each instance gets all of every
        channel), code, checkpoints, config files and the script's environment."""
        request = job.request
        ml = root / "opt" / "ml"
        for folder in ("input/config", "model", "output/data", "code"):
            (ml / folder).mkdir(parents=True, exist_ok=True)
        channels = {}
        for channel in request.get("InputDataConfig", []):
            channel_name = channel["ChannelName"]
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            channels[channel_name] = download_prefix(s3, uri, ml / "input" / "data" / channel_name)
        bucket, key = s3_parts(str(own["sagemaker_submit_directory"]))
        with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
            tar.extractall(ml / "code", filter="data")
        checkpoint = request.get("CheckpointConfig")
        if checkpoint:  # a restarted job finds what its last run left, as with spot training
            download_prefix(s3, checkpoint["S3Uri"], ml / "checkpoints")
        resource_config, input_data_config = self._write_config(ml, request, name, names)
        user = self._user_hyperparameters(job, values, ml)
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_", "TF_CONFIG"))},
            **toolkit.env_vars(ml, job.name, own, user, channels, resource_config, input_data_config, FRAMEWORK_MODULE),
            "SAGEMAKER_TRAINING_MODULE": FRAMEWORK_MODULE,
            # The platform's, in every training container.
            "TRAINING_JOB_NAME": job.name,
            "SAGEMAKER_JOB_NAME": job.name,
            "TRAINING_JOB_ARN": job.arn,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "SAGEMAKER_REGION": toolkit.region(own),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1",
            # Each instance has a disk of its own: hosts of one machine must not share a /tmp.
            "TMPDIR": str(root / "tmp"),
        }
        (root / "tmp").mkdir(exist_ok=True)
        if request.get("EnableNetworkIsolation"):
            environment.update(isolated(addresses))
        tf_config = toolkit.tf_config(own, resource_config, addresses)
        if tf_config:
            environment["TF_CONFIG"] = tf_config
        log_path = root / "training.log"
        log_path.write_text("")
        arguments = toolkit.to_cmd_args(user)
        python = instance_python(root / "python", self.image)
        return Host(name, ml, python, arguments, environment, log_path, self._log_stream(job, name))

    @staticmethod
    def _user_hyperparameters(job: TrainingJob, values: dict[str, Any], ml: Path) -> dict[str, Any]:
        """The script's hyperparameters; the job's checkpoint LocalPath is this machine's folder."""
        user = toolkit.user_hyperparameters(values, job.name)
        checkpoint = job.request.get("CheckpointConfig")
        if checkpoint:
            local_path = checkpoint.get("LocalPath", "/opt/ml/checkpoints")
            user = {k: str(ml / "checkpoints") if v == local_path else v for k, v in user.items()}
        return user

    @staticmethod
    def _archive(folders: list[Path]) -> bytes:
        """One .tar.gz of what every instance left in the folder, host by host. Which host's file
        SageMaker keeps when two write the same path is not documented: locally that fails the job
        (a multi-instance script saves from its chief only)."""
        buffer, seen = io.BytesIO(), dict[str, int]()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for host, folder in enumerate(folders, start=1):
                for path in sorted(folder.iterdir()):
                    if path.name in seen:
                        raise ValueError(
                            f"algo-{seen[path.name]} and algo-{host} both wrote {folder.name}/{path.name}: "
                            "save the model and outputs from one instance (the chief) only"
                        )
                    seen[path.name] = host
                    tar.add(path, arcname=path.name)
        return buffer.getvalue()

    @staticmethod
    def _write_config(
        ml: Path, request: dict[str, Any], current: str, hosts: list[str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        config = ml / "input" / "config"
        (config / "hyperparameters.json").write_text(json.dumps(dict(request.get("HyperParameters", {}))))
        channels = {
            c["ChannelName"]: {
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
            }
            for c in request.get("InputDataConfig", [])
        }
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        # What SageMaker writes on each instance (the developer guide's resourceconfig.json, with the
        # instance group of a homogeneous cluster): every host, and which one this is.
        instance_type = request["ResourceConfig"]["InstanceType"]
        resource_config = {
            "current_host": current,
            "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": hosts,
            "instance_groups": [
                {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": hosts}
            ],
            "network_interface_name": "eth0",
        }
        (config / "resourceconfig.json").write_text(json.dumps(resource_config))
        return resource_config, channels

    @staticmethod
    def _fail(job: TrainingJob, ml: Path, error: str, exit_code: int, stderr: str, command: list[str]) -> None:
        """The toolkit's failure file (unless the script wrote its own), read back as FailureReason."""
        failure = ml / "output" / "failure"
        if not failure.exists():
            failure.write_text(
                f'{error}:\nExitCode {exit_code}\nErrorMessage "{stderr}"\nCommand "{" ".join(command)}"'
            )
        job.failure = f"AlgorithmError: {failure.read_text().strip()}"[:1024]

    def _run(self, job: TrainingJob, commands: list[list[str]], hosts: list[Host]) -> list[tuple[int, str]]:
        """Run each host's command in its code folder, all at once: per host (exit code, the ErrorMessage
        its stderr gives). Both streams go to the host's log; the metric definitions read both, as
        they read CloudWatch. When one instance fails the others are stopped, as SageMaker ends a job
        whose instance failed (a worker left waiting on its peers would otherwise wait for ever)."""
        definitions = [
            (d["Name"], re.compile(d["Regex"]))
            for d in job.request["AlgorithmSpecification"].get("MetricDefinitions", [])
        ]
        lock = threading.Lock()

        def read(pipe: Any, is_stderr: bool, host: Host, log_file: Any, errors: list[str], reported: list[int]) -> None:
            for line in pipe:
                with lock:
                    log_file.write(line)
                    log_file.flush()
                    host.stream(line.rstrip("\n"))
                    if is_stderr and (errors or any(name in line for name in PYTHON_ERRORS)):
                        entry = line.strip(" :\n") + "\n"
                        if entry not in errors:  # process.watch: from the first line naming an error on, each once
                            errors.append(entry)
                    for name, pattern in definitions:
                        match = pattern.search(line)
                        if not match:
                            continue
                        try:
                            job.metrics[name] = float(match.group(1))
                        except ValueError:
                            continue
                        if job.resource_limit and name == job.resource_limit[0]:
                            reported[0] += 1
                            if reported[0] >= job.resource_limit[1]:  # "Once a job reaches MaxResource, it is stopped"
                                job.secondary = "Stopping"
                                job.terminate()

        with contextlib.ExitStack() as files:
            readers, errors = [], [list[str]() for _ in hosts]
            job.processes = []
            for host, command, said in zip(hosts, commands, errors, strict=True):
                log_file = files.enter_context(open(host.log_path, "a"))
                process = subprocess.Popen(  # noqa: S603 (our own python and the job's entry point)
                    command,
                    cwd=host.ml / "code",
                    env=host.environment,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    errors="replace",
                )
                job.processes.append(process)
                reported = [0]  # MaxResource counts each instance's own reports
                for pipe, is_stderr in ((process.stdout, False), (process.stderr, True)):
                    arguments = (pipe, is_stderr, host, log_file, said, reported)
                    readers.append(threading.Thread(target=read, args=arguments, daemon=True))
            # StopTrainingJob between the loop's check and here found no process to stop: stop them now.
            if job.status == "Stopping":
                job.terminate()
            for reader in readers:
                reader.start()
            while any(p.poll() is None for p in job.processes):
                if any(p.poll() not in (None, 0) for p in job.processes):
                    job.terminate()
                time.sleep(0.2)
            for reader in readers:
                reader.join()
        return [(p.returncode, " ".join(said).strip()) for p, said in zip(job.processes, errors, strict=True)]

    def _log_stream(self, job: TrainingJob, host: str) -> Callable[[str], None]:
        if self.logs is None:
            return lambda _line: None
        logs = self.logs
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
        stream = f"{job.name}/{host}-{int(time.time())}"  # a restarted job starts another, as there
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream)

        def put(line: str) -> None:
            event = {"timestamp": int(time.time() * 1000), "message": line or " "}
            logs.put_log_events(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream, logEvents=[event])

        return put


def download_prefix(s3: Any, uri: str, target: Path) -> str:
    """Every object under an s3:// prefix into a folder, as SageMaker downloads a channel. A prefix
    that is a whole key (the SageMaker SDK's `model_uri` channel names a model.tar.gz so) lands under
    the key's last part, as SageMaker names the file of an S3Object data source (S3ModelDataSource,
    the API reference: "split the key ... by slash (/), and use the last part as the filename")."""
    bucket, prefix = s3_parts(uri)
    target.mkdir(parents=True, exist_ok=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :].lstrip("/") or item["Key"].rsplit("/", 1)[-1]
            if not relative or relative.endswith("/"):
                continue
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(path))
    return str(target)


def upload_prefix(s3: Any, folder: Path, uri: str) -> None:
    """Every file in a folder under an s3:// prefix, as SageMaker syncs the checkpoint folder."""
    bucket, prefix = s3_parts(uri)
    for path in folder.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(folder)}")


# EnableNetworkIsolation (CreateTrainingJob, botocore's sagemaker model): "No inbound or outbound
# network calls can be made, except for calls between peers within a training cluster for
# distributed training." Here every HTTP(S) client (pip, urllib, Keras's downloads) is sent to a
# closed local port, except for the job's own hosts.
CLOSED = "http://127.0.0.1:9"


def isolated(addresses: dict[str, str]) -> dict[str, str]:
    hosts = ",".join(["localhost", *sorted({a.rsplit(":", 1)[0] for a in addresses.values()}), *sorted(addresses)])
    return {name: CLOSED for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")} | {
        "NO_PROXY": hosts,
        "no_proxy": hosts,
    }
