"""The aws provider: clusters on AWS, one CloudFormation stack each, built with troposphere and deployed with boto3.

Only this package imports boto3 (lazily, so that importing the template code costs no boto3 import).
"""

from __future__ import annotations

from paracluster.providers.aws.provider import AwsProvider

__all__ = ["AwsProvider"]
