"""Pure parts of local accounting: the secret store, Database Uri parsing, slurmdbd.conf rendering."""

from __future__ import annotations

import stat

import pytest

from paracluster.errors import BadRequestError, NotFoundError
from paracluster.providers.local.standins import database, secrets
from paracluster.slurm import slurmdbd

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dbpass-AbCdEf"


def test_secret_store_round_trip_and_modes(tmp_path):
    assert secrets.list_arns(tmp_path) == []
    secrets.put(tmp_path, ARN, b"pa55\n")
    assert secrets.get(tmp_path, ARN, "X") == "pa55"
    assert secrets.list_arns(tmp_path) == [ARN]
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    assert [stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "secrets").iterdir()] == [0o600]
    secrets.delete(tmp_path, ARN)
    with pytest.raises(NotFoundError, match="paracluster secrets put"):
        secrets.get(tmp_path, ARN, "Scheduling/SlurmSettings/Database/PasswordSecretArn")


@pytest.mark.parametrize("arn", ["arn:aws:s3:::bucket", "dbpass", "arn:aws:secretsmanager:us-east-1:123:secret:x"])
def test_secret_arns_are_checked(tmp_path, arn):
    with pytest.raises(BadRequestError, match="is not a Secrets Manager secret ARN"):
        secrets.put(tmp_path, arn, b"x")


@pytest.mark.parametrize("uri, expected", [
    ("db.example.com", ("db.example.com", 3306)),
    ("db.example.com:3307", ("db.example.com", 3307)),
    ("10.0.0.5:3306", ("10.0.0.5", 3306)),
])
def test_parse_uri(uri, expected):
    assert database.parse_uri(uri) == expected


@pytest.mark.parametrize("uri", ["mysql://db:3306", "/db", "db:port", ""])
def test_parse_uri_refuses(uri):
    with pytest.raises(BadRequestError):
        database.parse_uri(uri)


def test_attachment_address_is_the_last_usable_one():
    assert database.attachment_address("10.187.8.0/21") == "10.187.15.254"
    assert database.sql_string("a'b\\c") == "'a\\'b\\\\c'"


def _input(**extra):
    base = dict(dbd_host="head", storage_host="db.example.com", storage_port=3306,
                storage_loc=slurmdbd.storage_loc(None, "my-cluster"), storage_user="admin", storage_pass="pw",
                conf_dir="/etc/slurm", log_file="/var/log/slurm/slurmdbd.log", pid_file="/run/slurm/slurmdbd.pid")
    return slurmdbd.SlurmdbdInput(**{**base, **extra})


def test_slurmdbd_conf_as_parallelcluster():
    inp = _input(jwt_key="/var/spool/slurm.state/jwt_hs256.key")
    conf = slurmdbd.slurmdbd_conf(inp)
    assert "DbdPort=6819" in conf and "StorageType=accounting_storage/mysql" in conf and "SlurmUser=slurm" in conf
    assert "AuthAltTypes=auth/jwt" in conf
    assert conf.rstrip().endswith("include /etc/slurm/slurm_parallelcluster_slurmdbd.conf")
    assert "pw" not in conf.replace("PidFile", "")
    settings = slurmdbd.settings_conf(inp).splitlines()
    assert settings[1:] == ["DbdHost=head", "StorageHost=db.example.com", "StoragePort=3306",
                            "StorageLoc=my_cluster",
                            "StorageUser=admin", "StoragePass=pw"]


def test_external_slurmdbd_conf():
    inp = _input(external=True, dbd_host="localhost", dbd_port=6820)
    assert "DbdPort" not in slurmdbd.slurmdbd_conf(inp)
    assert "include /etc/slurm/slurm_external_slurmdbd.conf" in slurmdbd.slurmdbd_conf(inp)
    assert "DbdPort=6820" in slurmdbd.settings_conf(inp) and "DebugFlags=Network" in slurmdbd.settings_conf(inp)


def test_bootstrap_script_is_idempotent_shell():
    script = slurmdbd.bootstrap_script("my-cluster", ["slurm", "ec2-user"])
    assert "sacctmgr -i add cluster 'my-cluster'" in script and "AdminLevel=Admin" in script
    assert "grep -qx 'pcdefault' ||" in script
