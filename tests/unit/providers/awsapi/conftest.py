"""boto3 against the stand-ins on the loopback address: fake credentials, no metadata service, no user config."""

from __future__ import annotations

import pytest

from paracluster.providers.local.standins.awsapi import endpoints


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never the host's metadata service
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def urls(state_dir):
    """S3 and Secrets Manager of `state_dir`, each its own process on 127.0.0.1."""
    yield endpoints.start_cluster_endpoints(state_dir, "127.0.0.1")
    endpoints.stop_cluster_endpoints(state_dir, "127.0.0.1")
