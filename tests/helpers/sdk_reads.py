"""Run in .venv-sdk by tests/e2e/test_oracles.py: the SageMaker SDK (sagemaker-core) reads local
SageMaker resources through its own resource classes, which parse each Describe answer into the
SDK's typed shapes and page List calls with NextToken. Prints what it read as JSON.

    .venv-sdk/bin/python tests/helpers/sdk_reads.py '{"training_jobs": ["vista-x"], "region": "us-east-1"}'
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(spec: dict[str, Any]) -> dict[str, Any]:
    import logging

    logging.disable(logging.WARNING)  # the SDK logs its defaults
    from sagemaker.core.resources import EndpointConfig, Model, TrainingJob

    region = spec["region"]
    jobs = {
        name: {
            "status": (job := TrainingJob.get(name, region=region)).training_job_status,
            "secondary": job.secondary_status,
            "failure_reason": job.failure_reason,
            "hyperparameters": dict(job.hyper_parameters or {}),
        }
        for name in spec.get("training_jobs", [])
    }
    models = {name: Model.get(name, region=region).primary_container.image for name in spec.get("models", [])}
    configs = {
        name: EndpointConfig.get(name, region=region).production_variants[0].model_name
        for name in spec.get("endpoint_configs", [])
    }
    listed = [job.training_job_name for job in TrainingJob.get_all(region=region)]
    return {"training_jobs": jobs, "models": models, "endpoint_configs": configs, "listed": listed}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1])), default=str))
