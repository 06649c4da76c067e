"""Print template.yaml translated by the SAM translator, as `sam deploy` hands it to
CloudFormation (JSON on stdout). Runs in .venv-sam, where aws-sam-cli brings the translator:
it pins a pydantic the functions' environment cannot share.

    .venv-sam/bin/python tools/translate_template.py > translated.json
    .venv-sam/bin/python tools/translate_template.py changed.json   # another template (YAML or JSON)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only for names it does not know."""

    def load(self) -> dict[str, str]:
        return {}


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE
    template = yaml_parse(path.read_text())
    # Local paths are what `sam package` replaces with S3 locations.
    template["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"
    for spec in template["Resources"].values():
        if spec["Type"] == "AWS::Serverless::LayerVersion":
            spec["Properties"]["ContentUri"] = "s3://bucket/layer.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    json.dump(transform(template, {}, NoManagedPolicies()), sys.stdout, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
