"""A local SageMaker and SageMaker Runtime, one module per part, along moto's lines:

- `server`: HTTP (botocore's json and rest-json protocols) and errors on the wire;
- `errors`: AWS's error codes, statuses and messages, by name;
- `backend`: the operations; `state`: what they hold, Describe and List (paging, filters);
- `container`: the script-mode training container; `toolkit`: the training toolkit's own rules;
- `tuner`: hyperparameter tuning; `serving`: TF Serving's REST predict API;
- `registry`: the Model Registry's model package groups and versioned packages.
"""

from vista.local.sagemaker.backend import LocalSageMaker
from vista.local.sagemaker.errors import SageMakerError
from vista.local.sagemaker.server import SageMakerServer

__all__ = ["LocalSageMaker", "SageMakerError", "SageMakerServer"]
