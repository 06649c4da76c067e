"""The script-mode training container: what SageMaker's TensorFlow training image does with a job.

Per aws/sagemaker-training-toolkit (`entry_point.run`, `modules.install_requirements`, `process.check_error`,
`files.write_failure_file`) and the platform around it:
- channels are downloaded from S3 into /opt/ml/input/data/<channel>, the three config files written,
  `sagemaker_submit_directory` extracted into the code folder;
- a `requirements.txt` beside the entry point is installed with `python -m pip install -r
  requirements.txt` before the script runs (its failure is an InstallRequirementsError);
- the script runs with the toolkit's SM_* variables and sorted `--name value` arguments (toolkit.py),
  and the platform's TRAINING_JOB_NAME and AWS_REGION; stdout and stderr both go to the job's
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
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vista.local.sagemaker import toolkit
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


class ScriptModeContainer:
    def __init__(self, workdir: Path, *, s3: Any, logs: Any, python: str, region: str) -> None:
        self.workdir, self.s3, self.logs, self.python, self.region = workdir, s3, logs, python, region

    def run(self, job: TrainingJob, emit: Callable[[TrainingJob], None]) -> tuple[str, str]:
        """Run the job to its end: (TrainingJobStatus, SecondaryStatus), FailureReason set on failure."""
        request = job.request
        root = self.workdir / "training" / job.name
        ml = root / "opt" / "ml"
        shutil.rmtree(root, ignore_errors=True)
        for folder in ("input/config", "model", "output/data", "code"):
            (ml / folder).mkdir(parents=True, exist_ok=True)
        job.started = now()
        job.secondary = "Downloading"
        emit(job)
        channels = {}
        for channel in request.get("InputDataConfig", []):
            name = channel["ChannelName"]
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            channels[name] = self.download_prefix(uri, ml / "input" / "data" / name)
        hyperparameters = dict(request.get("HyperParameters", {}))
        values = toolkit.decoded(hyperparameters)  # as the toolkit reads hyperparameters.json, once
        own, _ = toolkit.split(values)
        code, program = own.get("sagemaker_submit_directory", ""), own.get("sagemaker_program", "train.py")
        if not str(code).startswith("s3://"):
            job.failure = "ClientError: sagemaker_submit_directory must be an s3:// URI"
            return "Failed", "Failed"
        bucket, key = s3_parts(code)
        with tarfile.open(fileobj=io.BytesIO(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
            tar.extractall(ml / "code", filter="data")
        checkpoint = request.get("CheckpointConfig")
        checkpoints = ml / "checkpoints"
        if checkpoint:  # a restarted job finds what its last run left, as with spot training
            self.download_prefix(checkpoint["S3Uri"], checkpoints)
        resource_config, input_data_config = self._write_config(ml, request, hyperparameters)
        user = toolkit.user_hyperparameters(values, job.name)
        if checkpoint:  # the job's LocalPath is this machine's checkpoint folder
            local_path = checkpoint.get("LocalPath", "/opt/ml/checkpoints")
            user = {k: str(checkpoints) if v == local_path else v for k, v in user.items()}
        arguments = toolkit.to_cmd_args(user)
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_"))},
            **toolkit.env_vars(ml, job.name, own, user, channels, resource_config, input_data_config, FRAMEWORK_MODULE),
            "SAGEMAKER_TRAINING_MODULE": FRAMEWORK_MODULE,
            # The platform's, in every training container.
            "TRAINING_JOB_NAME": job.name,
            "AWS_REGION": self.region,
            "SAGEMAKER_REGION": toolkit.region(own),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1",
        }
        log_path = root / "training.log"
        log_path.write_text("")
        stream = self._log_stream(job)
        if (ml / "code" / "requirements.txt").exists():
            command = [self.python, "-m", "pip", "install", "-r", "requirements.txt"]
            exit_code, stderr = self._run(job, command, ml, environment, log_path, stream)
            if exit_code != 0:
                self._fail(job, ml, "InstallRequirementsError", exit_code, stderr, command)
                return "Failed", "Failed"
        command, exit_code, stderr = [self.python, str(program), *arguments], 0, ""
        while job.status != "Stopping":  # StopTrainingJob before the script started: nothing runs
            job.secondary = "Training"
            emit(job)
            exit_code, stderr = self._run(job, command, ml, environment, log_path, stream)
            if checkpoint:
                self.upload_prefix(checkpoints, checkpoint["S3Uri"])
            if not job.interrupted or job.secondary == "Stopping":
                break
            # A reclaimed spot instance: SageMaker starts another with the checkpoints synced back.
            job.interrupted = False
            job.secondary = "Interrupted"
            emit(job)
            shutil.rmtree(checkpoints, ignore_errors=True)
            self.download_prefix(checkpoint["S3Uri"], checkpoints)
            job.secondary = "Restarting"
            emit(job)
        stopped = "Stopping" in (job.status, job.secondary)
        if exit_code != 0 and not stopped:
            self._fail(job, ml, "ExecuteUserScriptError", exit_code, stderr, command)
            return "Failed", "Failed"
        # A stopped job's model and output are uploaded as they are (SageMaker stops it with SIGTERM
        # and saves what /opt/ml/model holds), so a trial stopped before it exported has an empty model.
        job.secondary = "Uploading"
        output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        bucket, prefix = s3_parts(f"{output}/{job.name}/output")
        for archive, folder in (("model.tar.gz", ml / "model"), ("output.tar.gz", ml / "output" / "data")):
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                for path in sorted(folder.iterdir()):
                    tar.add(path, arcname=path.name)
            self.s3.put_object(Bucket=bucket, Key=f"{prefix}/{archive}".lstrip("/"), Body=buffer.getvalue())
        return ("Stopped", "Stopped") if stopped else ("Completed", "Completed")

    @staticmethod
    def _write_config(
        ml: Path, request: dict[str, Any], hyperparameters: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        config = ml / "input" / "config"
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        channels = {
            c["ChannelName"]: {
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
            }
            for c in request.get("InputDataConfig", [])
        }
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        # What SageMaker writes for a one-instance job (the developer guide's resourceconfig.json, with the
        # instance group of a homogeneous cluster).
        instance_type = request["ResourceConfig"]["InstanceType"]
        resource_config = {
            "current_host": "algo-1",
            "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": ["algo-1"],
            "instance_groups": [
                {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": ["algo-1"]}
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

    def _run(
        self,
        job: TrainingJob,
        command: list[str],
        ml: Path,
        environment: dict[str, str],
        log_path: Path,
        stream: Callable[[str], None],
    ) -> tuple[int, str]:
        """Run one command in the code folder: (exit code, the ErrorMessage its stderr gives). Both
        streams go to the job's log; the metric definitions read both, as they read CloudWatch."""
        definitions = [
            (d["Name"], re.compile(d["Regex"]))
            for d in job.request["AlgorithmSpecification"].get("MetricDefinitions", [])
        ]
        lock = threading.Lock()
        errors: list[str] = []  # process.watch: from the first line naming an error on, each line once
        reported = 0

        def read(pipe: Any, is_stderr: bool) -> None:
            nonlocal reported
            for line in pipe:
                with lock:
                    log_file.write(line)
                    log_file.flush()
                    stream(line.rstrip("\n"))
                    if is_stderr and (errors or any(name in line for name in PYTHON_ERRORS)):
                        entry = line.strip(" :\n") + "\n"
                        if entry not in errors:
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
                            reported += 1
                            if reported >= job.resource_limit[1]:  # "Once a job reaches MaxResource, it is stopped"
                                job.secondary = "Stopping"
                                assert job.process is not None
                                job.process.terminate()

        with open(log_path, "a") as log_file:
            job.process = subprocess.Popen(  # noqa: S603 (our own python and the job's entry point)
                command,
                cwd=ml / "code",
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
            )
            # StopTrainingJob between the loop's check and here found no process to stop: stop it now.
            if job.status == "Stopping":
                job.process.terminate()
            readers = [
                threading.Thread(target=read, args=(job.process.stdout, False), daemon=True),
                threading.Thread(target=read, args=(job.process.stderr, True), daemon=True),
            ]
            for reader in readers:
                reader.start()
            exit_code = job.process.wait()
            for reader in readers:
                reader.join()
        return exit_code, " ".join(errors).strip()

    def _log_stream(self, job: TrainingJob) -> Callable[[str], None]:
        if self.logs is None:
            return lambda _line: None
        logs = self.logs
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
        stream = f"{job.name}/algo-1-{int(time.time())}"  # a restarted job starts another, as there
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream)

        def put(line: str) -> None:
            event = {"timestamp": int(time.time() * 1000), "message": line or " "}
            logs.put_log_events(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream, logEvents=[event])

        return put

    def download_prefix(self, uri: str, target: Path) -> str:
        bucket, prefix = s3_parts(uri)
        target.mkdir(parents=True, exist_ok=True)
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :].lstrip("/")
                if not relative or relative.endswith("/"):
                    continue
                path = target / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(bucket, item["Key"], str(path))
        return str(target)

    def upload_prefix(self, folder: Path, uri: str) -> None:
        bucket, prefix = s3_parts(uri)
        for path in folder.rglob("*"):
            if path.is_file():
                self.s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(folder)}")
