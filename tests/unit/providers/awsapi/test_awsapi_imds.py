"""IMDS answers for a node record: IMDSv2 tokens, v1 per HttpTokens, the metadata tree, credentials, identity."""

from __future__ import annotations

import json

import pytest

from paracluster.providers.local.standins.awsapi.imds import (
    MAX_TTL,
    NodeRecord,
    Tokens,
    answer,
    http_tokens_for,
)

NOW = 1_800_000_000.0
RECORD = NodeRecord(
    netns="/run/netns/paracluster-c-head", instance_id="i-0123456789abcdef0", instance_type="c5.xlarge",
    local_ipv4="10.0.0.2", local_hostname="ip-10-0-0-2.ec2.internal", availability_zone="us-east-1b",
    region="us-east-1", subnet_cidr="10.0.0.0/24", mac="0e:11:22:33:44:55", tags={"Name": "HeadNode"},
    role_name="pcl-head-role", launch_time=NOW - 600, availability_zone_id="use1-az2",
)
TOKENS = Tokens(b"k" * 32)


def token_for(record: NodeRecord = RECORD, ttl: str = "300", now: float = NOW) -> str:
    status, headers, body = answer(record, TOKENS, "PUT", "/latest/api/token",
                                   {"X-aws-ec2-metadata-token-ttl-seconds": ttl}, now)
    assert status == 200 and headers["X-aws-ec2-metadata-token-ttl-seconds"] == ttl
    return body


def get(path: str, record: NodeRecord = RECORD, token: str | None = "new", now: float = NOW) -> tuple[int, str]:
    headers = {}
    if token == "new":
        token = token_for(record, now=now)
    if token is not None:
        headers["x-aws-ec2-metadata-token"] = token  # header names are case-insensitive
    status, _, body = answer(record, TOKENS, "GET", path, headers, now)
    return status, body


def test_v2_session_gives_the_node_its_own_values():
    assert get("/latest/meta-data/instance-id") == (200, "i-0123456789abcdef0")
    assert get("/latest/meta-data/instance-type") == (200, "c5.xlarge")
    assert get("/latest/meta-data/local-ipv4") == (200, "10.0.0.2")
    assert get("/latest/meta-data/local-hostname") == (200, "ip-10-0-0-2.ec2.internal")
    assert get("/latest/meta-data/hostname") == (200, "ip-10-0-0-2.ec2.internal")
    assert get("/latest/meta-data/placement/availability-zone") == (200, "us-east-1b")
    assert get("/latest/meta-data/placement/availability-zone-id") == (200, "use1-az2")
    assert get("/latest/meta-data/placement/region") == (200, "us-east-1")
    assert get("/latest/meta-data/mac") == (200, "0e:11:22:33:44:55")
    assert get("/latest/meta-data/ami-id")[1].startswith("ami-")
    assert get("/latest/meta-data/tags/instance/Name") == (200, "HeadNode")


def test_network_interface_basics_are_under_the_mac():
    base = "/latest/meta-data/network/interfaces/macs/0e:11:22:33:44:55/"
    status, listing = get(base)
    assert status == 200
    assert {"local-ipv4s", "subnet-ipv4-cidr-block", "mac", "device-number"} <= set(listing.splitlines())
    assert get(base + "local-ipv4s") == (200, "10.0.0.2")
    assert get(base + "subnet-ipv4-cidr-block") == (200, "10.0.0.0/24")
    assert get("/latest/meta-data/network/interfaces/macs/") == (200, "0e:11:22:33:44:55/")


def test_directories_list_entries_and_mark_subdirectories():
    status, listing = get("/latest/meta-data/")
    entries = listing.splitlines()
    assert status == 200
    assert {"instance-id", "placement/", "iam/", "tags/", "network/", "local-ipv4"} <= set(entries)
    assert get("/latest/meta-data") == (200, listing)  # without the trailing slash too
    assert get("/latest/meta-data/placement/")[1].splitlines() == ["availability-zone", "availability-zone-id",
                                                                    "region"]
    assert "latest" in get("/")[1].splitlines()
    assert get("/2021-07-15/meta-data/instance-id") == (200, "i-0123456789abcdef0")


def test_role_credentials_are_temporary_and_stable_within_the_hour():
    assert get("/latest/meta-data/iam/security-credentials/") == (200, "pcl-head-role")
    status, body = get("/latest/meta-data/iam/security-credentials/pcl-head-role")
    first = json.loads(body)
    assert status == 200 and first["Code"] == "Success" and first["Type"] == "AWS-HMAC"
    assert first["AccessKeyId"].startswith("ASIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40 and first["Token"]
    assert first["Expiration"] > first["LastUpdated"]
    again = json.loads(get("/latest/meta-data/iam/security-credentials/pcl-head-role", now=NOW + 60)[1])
    later = json.loads(get("/latest/meta-data/iam/security-credentials/pcl-head-role", now=NOW + 7200)[1])
    assert again["AccessKeyId"] == first["AccessKeyId"]
    assert later["AccessKeyId"] != first["AccessKeyId"]
    info = json.loads(get("/latest/meta-data/iam/info")[1])
    assert info["InstanceProfileArn"] == "arn:aws:iam::123456789012:instance-profile/pcl-head-role"


def test_identity_document():
    status, body = get("/latest/dynamic/instance-identity/document")
    document = json.loads(body)
    assert status == 200
    assert document["instanceId"] == "i-0123456789abcdef0" and document["region"] == "us-east-1"
    assert document["availabilityZone"] == "us-east-1b" and document["privateIp"] == "10.0.0.2"
    assert document["accountId"] == "123456789012" and document["instanceType"] == "c5.xlarge"


def test_v1_refused_when_tokens_are_required_and_served_when_optional():
    assert get("/latest/meta-data/instance-id", token=None)[0] == 401
    optional = NodeRecord(**{**RECORD.to_dict(), "http_tokens": http_tokens_for("v1.0")})
    assert get("/latest/meta-data/instance-id", record=optional, token=None) == (200, "i-0123456789abcdef0")
    assert http_tokens_for("v2.0") == http_tokens_for(None) == "required"


def test_tokens_are_checked_for_signature_owner_and_expiry():
    token = token_for(ttl="60")
    assert get("/latest/meta-data/instance-id", token=token, now=NOW + 59)[0] == 200
    assert get("/latest/meta-data/instance-id", token=token, now=NOW + 61)[0] == 401
    assert get("/latest/meta-data/instance-id", token=token[:-2] + "xx")[0] == 401
    assert get("/latest/meta-data/instance-id", token="garbage")[0] == 401
    other = NodeRecord(**{**RECORD.to_dict(), "instance_id": "i-0fedcba9876543210"})
    assert get("/latest/meta-data/instance-id", record=other, token=token)[0] == 401
    # An invalid token is refused even where IMDSv1 is allowed, as EC2 does.
    optional = NodeRecord(**{**RECORD.to_dict(), "http_tokens": "optional"})
    assert get("/latest/meta-data/instance-id", record=optional, token="garbage")[0] == 401


@pytest.mark.parametrize("ttl", ["0", str(MAX_TTL + 1), "", "abc"])
def test_token_requests_need_a_valid_ttl(ttl):
    headers = {"X-aws-ec2-metadata-token-ttl-seconds": ttl} if ttl else {}
    assert answer(RECORD, TOKENS, "PUT", "/latest/api/token", headers, NOW)[0] == 400


def test_token_requests_through_a_proxy_and_wrong_methods_are_refused():
    headers = {"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "10.0.0.9"}
    assert answer(RECORD, TOKENS, "PUT", "/latest/api/token", headers, NOW)[0] == 403
    assert answer(RECORD, TOKENS, "GET", "/latest/api/token", {}, NOW)[0] == 405
    assert answer(RECORD, TOKENS, "POST", "/latest/meta-data/", {"x-aws-ec2-metadata-token": token_for()},
                  NOW)[0] == 405


def test_absent_parts_are_not_found():
    bare = NodeRecord(**{**RECORD.to_dict(), "tags": None, "role_name": None})
    assert get("/latest/meta-data/tags/instance", record=bare)[0] == 404
    assert get("/latest/meta-data/iam/security-credentials/", record=bare)[0] == 404
    assert "tags/" not in get("/latest/meta-data/", record=bare)[1].splitlines()
    assert get("/latest/user-data")[0] == 404
    assert get("/latest/meta-data/no-such-thing")[0] == 404
    assert get("/nonsense/meta-data/instance-id")[0] == 404
    with_data = NodeRecord(**{**RECORD.to_dict(), "user_data": "#!/bin/bash\necho hi\n"})
    assert get("/latest/user-data", record=with_data) == (200, "#!/bin/bash\necho hi\n")


def test_records_round_trip_and_reject_unknown_fields():
    assert NodeRecord.from_dict(json.loads(json.dumps(RECORD.to_dict()))) == RECORD
    with pytest.raises(ValueError, match="instance_name"):
        NodeRecord.from_dict({**RECORD.to_dict(), "instance_name": "x"})


def test_services_follow_the_partition():
    assert get("/latest/meta-data/services/partition") == (200, "aws")
    china = NodeRecord(**{**RECORD.to_dict(), "region": "cn-north-1"})
    assert get("/latest/meta-data/services/domain", record=china) == (200, "amazonaws.com.cn")
