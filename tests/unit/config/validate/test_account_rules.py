"""Directory service, IAM, secret, monitoring and tag validators: passing and failing cases with path and line."""

from __future__ import annotations

import pytest

from helpers import BASE_CLUSTER, findings

# BASE_CLUSTER has 16 lines; sections appended to it start on line 17.

DIRECTORY = """\
DirectoryService:
  DomainName: corp.example.com
  DomainAddr: ldaps://corp.example.com
  PasswordSecretArn: arn:aws:secretsmanager:us-east-1:111111111111:secret:pw
  DomainReadOnlyUser: cn=ReadOnly,ou=Users,dc=corp,dc=example,dc=com
"""


def _directory(replace: tuple[str, str] | None = None, extra: str = "") -> str:
    text = DIRECTORY.replace(*replace) if replace else DIRECTORY
    return BASE_CLUSTER + text + "".join(f"  {line}\n" for line in extra.splitlines())


@pytest.mark.parametrize("name", ["corp.example.com", "corp", "DC=corp,DC=example,DC=com", "dc=corp"])
def test_domain_name_passes(name):
    assert findings(_directory(("corp.example.com\n", f"{name}\n")), "DomainNameValidator") == []


@pytest.mark.parametrize("name", ["corp..example", "OU=x,DC=corp", "corp example"])
def test_domain_name(name):
    found = findings(_directory(("DomainName: corp.example.com", f"DomainName: {name}")), "DomainNameValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"DirectoryService/DomainName (line 18): '{name}' is neither")


def test_domain_address_passes():
    assert findings(_directory(), "DomainAddrValidator") == []
    several = _directory(("ldaps://corp.example.com", "ldaps://a.corp,ldaps://b.corp"))
    assert findings(several, "DomainAddrValidator") == []


@pytest.mark.parametrize(
    ("address", "text"),
    [
        ("corp.example.com", "names no protocol, so ldaps is assumed"),
        ("https://corp.example.com", "the protocol 'https' is not supported"),
        ("ldap://corp.example.com", "plain ldap sends directory traffic unencrypted; prefer ldaps, and plain ldap"),
    ],
)
def test_domain_address(address, text):
    found = findings(_directory(("ldaps://corp.example.com", address)), "DomainAddrValidator")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith("DirectoryService/DomainAddr (line 19): ")
    assert text in found[0][1]


def test_plain_ldap_with_the_insecure_setting():
    insecure = "AdditionalSssdConfigs:\n  ldap_auth_disable_tls_never_use_in_production: true"
    text = _directory(("ldaps://", "ldap://"), insecure)
    found = findings(text, "DomainAddrValidator")
    assert found == [("WARNING", "DirectoryService/DomainAddr (line 19): plain ldap sends directory traffic "
                      "unencrypted; prefer ldaps")]


def test_password_secret_arn():
    assert findings(_directory() + "Region: us-east-1\n", "PasswordSecretArnValidator") == []
    ssm = ("arn:aws:secretsmanager:us-east-1:111111111111:secret:pw", "arn:aws:ssm:us-east-1:111111111111:parameter/pw")
    assert findings(_directory(ssm) + "Region: us-isob-east-1\n", "PasswordSecretArnValidator") == []
    assert findings(_directory(ssm), "PasswordSecretArnValidator") == []  # no Region: the provider decides
    found = findings(_directory(ssm) + "Region: us-east-1\n", "PasswordSecretArnValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("DirectoryService/PasswordSecretArn (line 20): 'arn:aws:ssm:us-east-1:111111111111:"
                                  "parameter/pw' cannot hold the password in region us-east-1")


@pytest.mark.parametrize("value", ["hard", "demand"])
def test_ldap_tls_req_cert_passes(value):
    assert findings(_directory(extra=f"LdapTlsReqCert: {value}"), "LdapTlsReqCertValidator") == []


def test_ldap_tls_req_cert():
    assert findings(_directory(), "LdapTlsReqCertValidator") == []  # the default is hard
    found = findings(_directory(extra="LdapTlsReqCert: never"), "LdapTlsReqCertValidator")
    assert found == [("WARNING", "DirectoryService/LdapTlsReqCert (line 22): 'never' does not enforce the directory "
                      "server's certificate; use hard or demand")]


def test_additional_sssd_configs_passes():
    ok = "AdditionalSssdConfigs:\n  id_provider: ldap\n  access_provider: simple"
    assert findings(_directory(extra=ok), "AdditionalSssdConfigsValidator") == []
    ok = "LdapAccessFilter: memberOf=cn=users\nAdditionalSssdConfigs:\n  access_provider: ldap"
    assert findings(_directory(extra=ok), "AdditionalSssdConfigsValidator") == []


def test_additional_sssd_configs():
    bad = "LdapAccessFilter: memberOf=cn=users\nAdditionalSssdConfigs:\n  id_provider: ad\n  access_provider: simple"
    found = findings(_directory(extra=bad), "AdditionalSssdConfigsValidator")
    assert [level for level, _ in found] == ["ERROR", "ERROR"]
    assert found[0][1].startswith("DirectoryService/AdditionalSssdConfigs (line 23): id_provider cannot be 'ad'")
    assert found[1][1].startswith("DirectoryService/AdditionalSssdConfigs (line 23): access_provider cannot be "
                                  "'simple'")


def _prefix(value: str) -> str:
    return BASE_CLUSTER + f"Iam:\n  ResourcePrefix: {value}\n"


@pytest.mark.parametrize("prefix", ["pc-", "/path/", "/path/name-", "/a/b/" + "n" * 30, "/a/b/c with anything"])
def test_iam_resource_prefix_passes(prefix):
    assert findings(_prefix(prefix), "IamResourcePrefixValidator") == []


@pytest.mark.parametrize(
    ("prefix", "texts"),
    [
        ("bad prefix", ["is neither an IAM path"]),
        ("/path", ["is neither an IAM path"]),
        ("n" * 31, ["has 31 characters; use at most 30"]),
        ("/p/" + "n" * 31, ["has 31 characters; use at most 30"]),
        ("/" + "p" * 512 + "/", ["the IAM path has 514 characters; use at most 512"]),
        ("bad!" + "n" * 30, ["is neither an IAM path", "has 34 characters"]),
    ],
)
def test_iam_resource_prefix(prefix, texts):
    found = findings(_prefix(prefix), "IamResourcePrefixValidator")
    assert [level for level, _ in found] == ["ERROR"] * len(texts)
    for (_, message), text in zip(found, texts):
        assert message.startswith("Iam/ResourcePrefix (line 18): ") and text in message


def _munge(arn: str) -> str:
    settings = f"  SlurmSettings:\n    MungeKeySecretArn: {arn}\n"
    return BASE_CLUSTER.replace("  Scheduler: slurm\n", "  Scheduler: slurm\n" + settings)


def test_munge_key_secret_arn():
    assert findings(BASE_CLUSTER, "ArnServiceAndResourceValidator") == []
    ok = _munge("arn:aws:secretsmanager:us-east-1:111111111111:secret:munge")
    assert findings(ok, "ArnServiceAndResourceValidator") == []
    for bad in ("arn:aws:ssm:us-east-1:111111111111:parameter/munge", "munge-key"):
        found = findings(_munge(bad), "ArnServiceAndResourceValidator")
        assert len(found) == 1 and found[0][0] == "ERROR"
        assert found[0][1].startswith(f"Scheduling/SlurmSettings/MungeKeySecretArn (line 10): '{bad}' is not a Secrets")


def _monitoring(body: str) -> str:
    return BASE_CLUSTER + "Monitoring:\n" + "".join(f"  {line}\n" for line in body.splitlines())


def test_log_rotation():
    assert findings(BASE_CLUSTER, "LogRotationValidator") == []
    off = "Logs:\n  CloudWatch:\n    Enabled: false\n  Rotation:\n    Enabled: {}"
    assert findings(_monitoring(off.format("false")), "LogRotationValidator") == []
    found = findings(_monitoring(off.format("true")), "LogRotationValidator")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith("Monitoring/Logs/CloudWatch/Enabled (line 20): CloudWatch logging is off")


def test_detailed_monitoring():
    assert findings(_monitoring("DetailedMonitoring: false"), "DetailedMonitoringValidator") == []
    found = findings(_monitoring("DetailedMonitoring: true"), "DetailedMonitoringValidator")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith("Monitoring/DetailedMonitoring (line 18): 1-minute EC2 monitoring")


def _tags(keys: list[str], indent: int) -> str:
    pad = " " * indent
    return f"{pad}Tags:\n" + "".join(f"{pad}  - Key: {key}\n{pad}    Value: v\n" for key in keys)


def _tagged(cluster: list[str], queue: list[str], resource: list[str]) -> str:
    text = BASE_CLUSTER
    if resource:
        line = "          InstanceType: c5.xlarge\n"
        text = text.replace(line, line + _tags(resource, 10))
    if queue:
        text = text.replace("    - Name: queue1\n", "    - Name: queue1\n" + _tags(queue, 6))
    return text + (_tags(cluster, 0) if cluster else "")


def test_compute_resource_tags_passes():
    assert findings(_tagged(["a"], ["b"], ["c"]), "ComputeResourceTagsValidator") == []


def test_compute_resource_tags_overlap():
    found = findings(_tagged(["all", "cq"], ["all", "cq", "qr"], ["all", "qr"]), "ComputeResourceTagsValidator")
    assert [level for level, _ in found] == ["WARNING"] * 3
    assert found[0][1].startswith("Scheduling/SlurmQueues[0]/ComputeResources[0]/Tags (line 21): the tag keys all are "
                                  "set in the cluster, queue and compute resource Tags")
    assert found[1][1].startswith("Scheduling/SlurmQueues[0]/Tags (line 11): the tag keys cq are set in the cluster "
                                  "and queue Tags, and the queue values win")
    assert found[2][1].startswith("Scheduling/SlurmQueues[0]/ComputeResources[0]/Tags (line 21): the tag keys qr")
    found = findings(_tagged(["x", "y"], [], ["y", "x"]), "ComputeResourceTagsValidator")
    assert len(found) == 1 and "the tag keys x, y are set in the cluster and compute resource Tags" in found[0][1]


def test_compute_resource_tags_limit():
    assert findings(_tagged([f"c{i}" for i in range(20)], [f"q{i}" for i in range(20)], []),
                    "ComputeResourceTagsValidator") == []
    found = findings(_tagged([f"c{i}" for i in range(20)], [f"q{i}" for i in range(20)], ["r"]),
                     "ComputeResourceTagsValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmQueues[0]/ComputeResources[0]/Tags (line 55): compute resource "
                                  "'cr1' in queue 'queue1' gets 41 tags")


def test_database_password_secret_arn():
    database = """\
  SlurmSettings:
    Database:
      Uri: db.example.com:3306
      UserName: admin
      PasswordSecretArn: {}
"""
    ok = database.format("arn:aws:secretsmanager:us-east-1:111111111111:secret:pw")
    ok = BASE_CLUSTER.replace("  SlurmQueues:\n", ok + "  SlurmQueues:\n")
    assert findings(ok, "PasswordSecretArnValidator") == []
    bad = database.format("arn:aws:ssm:us-east-1:111111111111:secret/pw")
    found = findings(BASE_CLUSTER.replace("  SlurmQueues:\n", bad + "  SlurmQueues:\n"), "PasswordSecretArnValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmSettings/Database/PasswordSecretArn (line 13): ")
