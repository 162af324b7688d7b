"""Where the aws provider's requests go (region, endpoint, credentials) and its services on moto: EC2 key pairs, S3
buckets, Secrets Manager secrets; storage and accounting answer with one sentence."""

from __future__ import annotations

import pytest

from conftest import REGION, client
from paracluster import api
from paracluster.errors import BadRequestError, NotAvailableError, NotFoundError
from paracluster.providers import get_provider
from paracluster.providers.aws.provider import session_for
from paracluster.settings import load_settings


def test_get_provider_gives_the_aws_provider():
    chosen = get_provider("aws", load_settings({"provider": "aws"}))
    assert chosen.name == "aws"


def test_region_comes_from_the_request_else_the_environment(monkeypatch):
    assert session_for("eu-west-1").region == "eu-west-1"
    assert session_for(None).region == REGION  # AWS_DEFAULT_REGION
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    from paracluster.providers.aws.provider import reset_sessions

    reset_sessions()
    with pytest.raises(BadRequestError, match="no AWS region is set; pass --region"):
        session_for(None)


def test_aws_endpoint_url_is_honoured(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    assert session_for(REGION).client("cloudformation").meta.endpoint_url == "http://127.0.0.1:5999"


def test_missing_credentials_are_one_sentence(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    with pytest.raises(BadRequestError) as raised:
        api.list_clusters(provider_name="aws", region=REGION)
    assert str(raised.value).startswith("failed to list clusters: no AWS credentials were found; set AWS_PROFILE")


def test_a_cluster_that_does_not_exist(aws):
    with pytest.raises(NotFoundError, match="cluster 'nothing' does not exist in us-east-1"):
        api.describe_cluster(cluster_name="nothing", provider_name="aws", region=REGION)


def test_stacks_without_paraclusters_tag_are_not_clusters(aws):
    template = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}'
    client("cloudformation").create_stack(StackName="someone-else", TemplateBody=template)
    assert api.list_clusters(provider_name="aws", region=REGION) == {"clusters": []}
    with pytest.raises(NotFoundError):
        api.delete_cluster(cluster_name="someone-else", provider_name="aws", region=REGION)


def _services():
    return get_provider("aws", load_settings({"provider": "aws"})).services


def test_key_pairs_are_ec2_key_pairs(aws, tmp_path):
    key_pairs = _services().key_pairs
    created = key_pairs.create("mine")
    assert created["keyName"] == "mine" and created["keyMaterial"].startswith("-----BEGIN")
    assert [pair["keyName"] for pair in key_pairs.describe()] == ["mine"]
    key_pairs.delete("mine")
    assert client("ec2").describe_key_pairs()["KeyPairs"] == []
    with pytest.raises(NotFoundError):
        key_pairs.delete("mine")


def test_buckets_are_s3(aws, tmp_path):
    client("s3").create_bucket(Bucket="site")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "start.sh").write_text("#!/bin/sh\n")
    (scripts / "end.sh").write_text("#!/bin/sh\nexit 0\n")
    buckets = _services().buckets
    assert buckets.put(scripts, "s3://site/bootstrap/") == ["s3://site/bootstrap/end.sh",
                                                            "s3://site/bootstrap/start.sh"]
    assert [item["url"] for item in buckets.list("s3://site/bootstrap/")] == ["s3://site/bootstrap/end.sh",
                                                                             "s3://site/bootstrap/start.sh"]
    copied = buckets.get("s3://site/bootstrap/start.sh", tmp_path)
    assert (tmp_path / "start.sh").read_text() == "#!/bin/sh\n" and copied.endswith("start.sh")
    assert buckets.remove("s3://site/bootstrap/") == ["s3://site/bootstrap/end.sh", "s3://site/bootstrap/start.sh"]
    assert buckets.remove("s3://site") == []
    assert client("s3").list_buckets()["Buckets"] == []


def test_secrets_are_secrets_manager_secrets(aws):
    secrets = _services().secrets
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:slurmdb"
    secrets.put(arn, b"first")  # created under the ARN's name
    [stored] = secrets.list_arns()
    assert client("secretsmanager").get_secret_value(SecretId=stored)["SecretString"] == "first"
    secrets.put(stored, b"second")
    assert client("secretsmanager").get_secret_value(SecretId=stored)["SecretString"] == "second"
    secrets.delete(stored)
    assert secrets.list_arns() == []
    with pytest.raises(BadRequestError, match="is not a Secrets Manager secret ARN"):
        secrets.check_arn("slurmdb")


def test_storage_and_accounting_are_managed_in_aws_itself():
    services = _services()
    with pytest.raises(NotAvailableError, match="made in AWS itself"):
        services.storage("list")
    with pytest.raises(NotAvailableError, match="Amazon RDS"):
        services.accounting("list_databases")


def test_slurm_tokens_and_dcv_are_not_there_yet():
    chosen = get_provider("aws", load_settings({"provider": "aws"}))
    with pytest.raises(NotAvailableError, match="part 2"):
        chosen.slurm_token("c", REGION, None, None)
    with pytest.raises(NotAvailableError, match="no DCV server"):
        chosen.dcv_connect("c", REGION)


def test_awsbatch_clusters_are_refused_before_any_aws_request():
    from support import BATCH_CLUSTER
    from paracluster.config.load import load_config_text
    from paracluster.config.schema import CLUSTER

    config = load_config_text(CLUSTER, BATCH_CLUSTER).config
    chosen = get_provider("aws", load_settings({"provider": "aws"}))
    with pytest.raises(BadRequestError, match="^Scheduling/Scheduler .*AWS Batch clusters are not supported yet"):
        chosen.validate_cluster("batch", config, REGION, ())


def test_extra_login_ports_come_from_the_settings():
    from paracluster.providers.aws.provider import EXTRA_LOGIN_PORTS_SETTING, AwsProvider
    from paracluster.settings import Settings

    values = {**load_settings().as_dict(), EXTRA_LOGIN_PORTS_SETTING: {"users": ["8787", 8888]}}
    assert AwsProvider(Settings(values, "test"))._extra_login_ports() == {"users": (8787, 8888)}
    assert AwsProvider(load_settings())._extra_login_ports() == {}
