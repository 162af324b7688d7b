"""The secret store as Secrets Manager: boto3 reads what `paracluster secrets put` stored, by ARN or name."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from paracluster.providers.local.standins import secrets
from paracluster.providers.local.standins.awsapi.secretsmanager import ApiError, resolve, version_id

DB = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slurmdb"
SUFFIXED = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:site/token-AbC123"


@pytest.fixture
def client(urls, state_dir):
    secrets.put(state_dir, DB, b"db-password\n")
    secrets.put(state_dir, SUFFIXED, b'{"token": "t0k3n"}')
    return boto3.client("secretsmanager", endpoint_url=urls["secretsmanager"])


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_get_secret_value_by_arn_name_and_partial_arn(client):
    answer = client.get_secret_value(SecretId=DB)
    assert answer["SecretString"] == "db-password"
    assert answer["ARN"] == DB and answer["Name"] == "slurmdb" and answer["VersionStages"] == ["AWSCURRENT"]
    assert client.get_secret_value(SecretId="slurmdb")["ARN"] == DB
    assert client.get_secret_value(SecretId="site/token")["SecretString"] == '{"token": "t0k3n"}'
    partial = SUFFIXED.removesuffix("-AbC123")
    assert client.get_secret_value(SecretId=partial)["ARN"] == SUFFIXED


def test_the_store_stays_the_source_of_truth(client, state_dir):
    first = client.get_secret_value(SecretId=DB)
    secrets.put(state_dir, DB, b"rotated")
    second = client.get_secret_value(SecretId=DB)
    assert second["SecretString"] == "rotated" and second["VersionId"] != first["VersionId"]
    assert error_code(lambda: client.get_secret_value(SecretId=DB, VersionId=first["VersionId"])) == \
        "ResourceNotFoundException"
    secrets.delete(state_dir, DB)
    assert error_code(lambda: client.get_secret_value(SecretId=DB)) == "ResourceNotFoundException"


def test_describe_and_list(client):
    described = client.describe_secret(SecretId="slurmdb")
    assert described["ARN"] == DB
    assert described["VersionIdsToStages"] == {version_id("db-password"): ["AWSCURRENT"]}
    listed = client.list_secrets()["SecretList"]  # by name (the store keeps no creation dates)
    assert [entry["ARN"] for entry in listed] == [SUFFIXED, DB]
    assert listed[1]["SecretVersionsToStages"] == {version_id("db-password"): ["AWSCURRENT"]}
    by_name = client.list_secrets(Filters=[{"Key": "name", "Values": ["site/"]}])["SecretList"]
    assert [entry["ARN"] for entry in by_name] == [SUFFIXED]
    negated = client.list_secrets(Filters=[{"Key": "name", "Values": ["!site/"]}])["SecretList"]
    assert [entry["ARN"] for entry in negated] == [DB]
    assert client.list_secrets(Filters=[{"Key": "tag-key", "Values": ["x"]}])["SecretList"] == []
    pages = list(client.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 1}))
    assert [entry["ARN"] for page in pages for entry in page["SecretList"]] == [SUFFIXED, DB]


def test_batch_get(client):
    answer = client.batch_get_secret_value(SecretIdList=["slurmdb", "missing"])
    assert [value["SecretString"] for value in answer["SecretValues"]] == ["db-password"]
    assert [(error["SecretId"], error["ErrorCode"]) for error in answer["Errors"]] == \
        [("missing", "ResourceNotFoundException")]
    filtered = client.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["slurm"]}])
    assert [value["ARN"] for value in filtered["SecretValues"]] == [DB]


def test_missing_secrets_and_writes_are_refused(client):
    assert error_code(lambda: client.get_secret_value(SecretId="nope")) == "ResourceNotFoundException"
    assert error_code(lambda: client.describe_secret(SecretId="nope")) == "ResourceNotFoundException"
    with pytest.raises(ClientError, match="paracluster secrets put"):
        client.create_secret(Name="new", SecretString="x")


def test_resolve_needs_one_unambiguous_match():
    arns = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AAAAAA",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-BBBBBB"]
    assert resolve(arns, "app-AAAAAA") == arns[0]
    with pytest.raises(ApiError):
        resolve(arns, "app")  # two secrets would answer: Secrets Manager names are unique, so neither does
