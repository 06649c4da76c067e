"""What SageMaker's TensorFlow training container does between the job and the script.

Reproduced from the containers' own source, not from what train.py expects:
- aws/sagemaker-training-toolkit, `environment.py`: `read_hyperparameters()` JSON-decodes each value
  of hyperparameters.json (a value that is not JSON stays a string); `Environment` splits off
  `params.SAGEMAKER_HYPERPARAMETERS` and every `sagemaker_*` name (the user's hyperparameters are
  the rest), takes the region from `sagemaker_region` (exported as SAGEMAKER_REGION, "" without it),
  and `to_env_vars()` gives the SM_* variables (`mapping.to_env_vars`: strings as they are, None as
  "", anything else compact sorted JSON).
- `mapping.to_cmd_args`: the user's hyperparameters sorted by name, `--name value`, each value
  `str()`-ed (True → "True"; a dict → "k=v,k=v").
- aws/sagemaker-tensorflow-training-toolkit, `training.py` `main()`: when `_tuning_objective_metric`
  is among the hyperparameters (the tuner adds it to every trial), `model_dir` becomes
  `_model_dir_with_training_job(model_dir, job)`: unchanged under /opt/ml, else
  `<model_dir>/<job>/model`, so "None/<job>/model" when the job has no `model_dir`.
- `train()`: with `sagemaker_multi_worker_mirrored_strategy_enabled` (what the SDK sends for
  `distribution={"multi_worker_mirrored_strategy": {"enabled": True}}`) and this host in a
  distribution instance group, TF_CONFIG is `_build_tf_config_for_mwms(distribution_hosts,
  current_host)`: every distribution host a worker at `<host>:8890`, this one's index its place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# sagemaker-training, params.py: SAGEMAKER_HYPERPARAMETERS (never passed to the script).
SAGEMAKER_HYPERPARAMETERS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "default_user_module_name",
    "_tuning_objective_metric",
    "sagemaker_s3_output",
)
TUNING_METRIC = "_tuning_objective_metric"
# environment.py, get_distribution_instance_groups_from_resource_config: any of these puts the
# current instance group among the distribution groups.
DISTRIBUTIONS = (
    "sagemaker_mpi_enabled",
    "sagemaker_parameter_server_enabled",
    "sagemaker_distributed_dataparallel_enabled",
    "sagemaker_pytorch_ddp_enabled",
    "sagemaker_pytorch_xla_multi_worker_enabled",
    "sagemaker_multi_worker_mirrored_strategy_enabled",
    "sagemaker_torch_distributed_enabled",
)
MWMS = "sagemaker_multi_worker_mirrored_strategy_enabled"
MWMS_PORT = 8890  # training.py, _build_tf_config_for_mwms


def distribution_hosts(own: dict[str, Any], resource_config: dict[str, Any]) -> list[str]:
    """environment.py: the hosts of the distribution instance groups (none unless one is asked for)."""
    group = resource_config["current_group_name"]
    default = [group] if any(own.get(name) for name in DISTRIBUTIONS) else []
    groups = own.get("sagemaker_distribution_instance_groups", default)
    return [h for g in resource_config["instance_groups"] if g["instance_group_name"] in groups for h in g["hosts"]]


def tf_config(own: dict[str, Any], resource_config: dict[str, Any], addresses: dict[str, str]) -> str | None:
    """The TF_CONFIG the TF container sets for MultiWorkerMirroredStrategy, or None. `addresses`
    maps each host to where it listens: on SageMaker `<host>:8890`, the host name resolved by the
    cluster's DNS; locally (no DNS for algo-N) a loopback address and a free port of its own."""
    hosts = distribution_hosts(own, resource_config)
    if not own.get(MWMS) or resource_config["current_host"] not in hosts:
        return None
    return json.dumps(
        {
            "cluster": {"worker": [addresses.get(h, f"{h}:{MWMS_PORT}") for h in hosts]},
            "environment": "cloud",
            "task": {"index": hosts.index(resource_config["current_host"]), "type": "worker"},
        }
    )


def decoded(hyperparameters: dict[str, str]) -> dict[str, Any]:
    """environment.read_hyperparameters(): each value JSON-decoded where it can be."""
    values = {}
    for name, value in hyperparameters.items():
        try:
            values[name] = json.loads(value)
        except (ValueError, TypeError):
            values[name] = value
    return values


def split(hyperparameters: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the toolkit's own, the user's): mapping.split_by_criteria(keys=..., prefix="sagemaker_")."""
    own = {k: v for k, v in hyperparameters.items() if k in SAGEMAKER_HYPERPARAMETERS or k.startswith("sagemaker_")}
    return own, {k: v for k, v in hyperparameters.items() if k not in own}


def model_dir_with_training_job(model_dir: Any, job_name: str) -> str:
    """training.py _model_dir_with_training_job, None included."""
    if model_dir and str(model_dir).startswith("/opt/ml"):
        return str(model_dir)
    return f"{model_dir}/{job_name}/model"


def user_hyperparameters(values: dict[str, Any], job_name: str) -> dict[str, Any]:
    """The hyperparameters the TF container hands the script, of a job's decoded hyperparameters.json."""
    _, user = split(values)
    if TUNING_METRIC in values:
        user["model_dir"] = model_dir_with_training_job(values.get("model_dir"), job_name)
    return user


def _text(value: Any) -> str:
    """mapping._decode: None → "", anything else str()."""
    return "" if value is None else str(value)


def to_cmd_args(user: dict[str, Any]) -> list[str]:
    """mapping.to_cmd_args."""
    arguments = []
    for name in sorted(user):
        value = user[name]
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
        arguments += [f"--{name}" if len(name) > 1 else f"-{name}", _text(value)]
    return arguments


def env_value(value: Any) -> str:
    """mapping.to_env_vars' format_value."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def region(own: dict[str, Any]) -> str:
    """SAGEMAKER_REGION, of the toolkit's own hyperparameters: `sagemaker_region`, or "" (the
    container's boto3 session may have none)."""
    return str(own.get("sagemaker_region") or "")


def env_vars(
    ml: Path,
    job_name: str,
    own: dict[str, Any],
    user: dict[str, Any],
    channels: dict[str, str],
    resource_config: dict[str, Any],
    input_data_config: dict[str, Any],
    framework_module: str,
) -> dict[str, str]:
    """environment.Environment(...).to_env_vars(), for the host whose /opt/ml is `ml`: SM_<NAME>
    for each of its entries, SM_CHANNEL_<NAME> and SM_HP_<NAME> one by one, and SM_TRAINING_ENV the
    whole Environment as `dict(env)` gives it. `own`: the toolkit's and `sagemaker_*` hyperparameters,
    decoded; `user`: the user's hyperparameters as the TF container
    leaves them (it rewrites env.hyperparameters' model_dir in place for a trial, so SM_HPS shows that).
    The test suite compares this, on the same job, with the real toolkit's answer (.venv-toolkit)."""
    program = str(own.get("sagemaker_program", ""))
    group = resource_config["current_group_name"]
    groups = {g["instance_group_name"]: g for g in resource_config["instance_groups"]}
    distributed = distribution_hosts(own, resource_config)
    master = (distributed or resource_config["hosts"])[0]  # environment.py, get_master_hostname
    properties: dict[str, Any] = {
        "additional_framework_parameters": {k: v for k, v in own.items() if k not in SAGEMAKER_HYPERPARAMETERS},
        "channel_input_dirs": channels,
        "current_host": resource_config["current_host"],
        "current_instance_group": group,
        "current_instance_group_hosts": groups[group]["hosts"],
        "current_instance_type": resource_config["current_instance_type"],
        "distribution_hosts": distributed,
        "distribution_instance_groups": [group] if distributed else [],
        "framework_module": framework_module or None,
        "hosts": resource_config["hosts"],
        "hyperparameters": user,
        "input_config_dir": str(ml / "input" / "config"),
        "input_data_config": input_data_config,
        "input_dir": str(ml / "input"),
        "instance_groups": list(groups),
        "instance_groups_dict": groups,
        "is_hetero": len(groups) > 1,
        "is_master": resource_config["current_host"] == master,
        "is_modelparallel_enabled": None,
        "is_smddpmprun_installed": False,
        "is_smddprun_installed": False,
        "job_name": job_name,
        "log_level": int(own.get("sagemaker_container_log_level", 20)),  # logging.INFO
        "master_hostname": master,
        "model_dir": str(ml / "model"),
        "module_dir": str(own.get("sagemaker_submit_directory", "")),
        "module_name": program.removesuffix(".py"),
        "network_interface_name": resource_config["network_interface_name"],
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "output_data_dir": str(ml / "output" / "data"),
        "output_dir": str(ml / "output"),
        "output_intermediate_dir": str(ml / "output" / "intermediate"),
        "resource_config": resource_config,
        "topology": [],
        "user_entry_point": program,
    }
    renamed = {"hps": "hyperparameters", "framework_params": "additional_framework_parameters"}
    env: dict[str, Any] = {
        name: properties[renamed.get(name, name)]
        for name in (
            *("hosts", "network_interface_name", "hps", "user_entry_point", "framework_params", "resource_config"),
            *("input_data_config", "output_data_dir", "current_host", "current_instance_type"),
            *("current_instance_group", "current_instance_group_hosts", "instance_groups", "instance_groups_dict"),
            *("distribution_instance_groups", "is_hetero", "module_name", "log_level", "framework_module"),
            *("input_dir", "input_config_dir", "output_dir", "num_cpus", "num_gpus", "num_neurons", "model_dir"),
            *("module_dir", "output_intermediate_dir"),
        )
    }
    env.update(channels=sorted(channels), training_env=properties, user_args=to_cmd_args(user))
    env.update({f"channel_{name}": path for name, path in channels.items()})
    env.update({f"hp_{name}": value for name, value in user.items()})
    return {f"SM_{k.upper()}": env_value(v) for k, v in env.items()}
