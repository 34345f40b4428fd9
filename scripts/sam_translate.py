"""Translates template.yaml (SAM) to plain CloudFormation JSON, offline.

cfn-lint on the SAM source misses broken properties of AWS::Serverless::Function; on the
translated template it sees the real Lambda, IAM and event-source resources.
"""
import json
import os
import sys

from cfnlint.decode import decode  # cfn-lint's YAML loader understands !Ref and friends
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    """The template names no managed policies; nothing to look up in IAM."""

    def load(self):
        return {}


def main(source, target):
    # The pseudo parameters only need a value to translate; no AWS call is made.
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
    template, matches = decode(source)
    if matches:
        for match in matches:
            print(match, file=sys.stderr)
        sys.exit(2)
    # `sam package` replaces local CodeUri paths with S3 locations; do the same.
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/function.zip"
    translated = transform(template, {}, NoManagedPolicies())
    with open(target, "w") as out:
        json.dump(translated, out, indent=1, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
