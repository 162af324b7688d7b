"""What the EC2 instance metadata service (IMDS) answers for one node: its record, IMDSv2 tokens, the path tree.

Pure: `answer()` turns a request (method, path, headers) and the node's record into (status, headers, body), with
EC2's rules: PUT /latest/api/token with a TTL header issues a session token; GETs carry it in
X-aws-ec2-metadata-token; without one they are refused when the node's HttpTokens is "required" (ImdsSupport v2.0)
and served when it is "optional" (v1.0). Directories list their entries one per line, sub-directories with a '/'.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

TOKEN_PATH = "/latest/api/token"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL = 21600  # EC2's limit on a token's lifetime (6 hours)
CREDENTIAL_PERIOD = 3600  # temporary credentials rotate hourly and stay valid for 6 hours, as EC2's do
# The metadata versions EC2 lists at "/"; every one of them serves the same tree here.
VERSIONS = ("1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01", "2008-09-01",
            "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12", "2014-02-25", "2014-11-05", "2015-10-20",
            "2016-04-19", "2016-06-30", "2016-09-02", "2018-03-28", "2018-08-17", "2018-09-24", "2019-10-01",
            "2020-10-27", "2021-01-03", "2021-03-23", "2021-07-15", "2022-09-24", "latest")
NOT_FOUND_BODY = ('<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 '
                  'Transitional//EN"\n\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                  '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n <head>\n  <title>404 - Not '
                  'Found</title>\n </head>\n <body>\n  <h1>404 - Not Found</h1>\n </body>\n</html>\n')


@dataclasses.dataclass(frozen=True)
class NodeRecord:
    """What the caller knows about a node; IMDS answers from this alone. `netns` is the node's network namespace."""

    netns: str
    instance_id: str
    instance_type: str
    local_ipv4: str
    local_hostname: str
    availability_zone: str
    region: str
    hostname: str = ""  # defaults to local_hostname
    subnet_cidr: str = ""  # the node's subnet, e.g. 10.0.0.0/24
    mac: str = ""  # defaults to the namespace's eth0 address
    ami_id: str = "ami-0000000000000000a"
    account_id: str = "123456789012"
    tags: dict[str, str] | None = None  # None: instance metadata tags are not enabled (tags/instance is absent)
    role_name: str | None = None  # the instance profile's role; None: no iam/ tree, as without an instance profile
    instance_profile_name: str = ""
    http_tokens: str = "required"  # "required" (ImdsSupport v2.0) or "optional" (v1.0)
    launch_time: float = 0.0
    user_data: str | None = None
    architecture: str = "x86_64"
    availability_zone_id: str = ""
    subnet_id: str = "subnet-00000000000000000"
    vpc_id: str = "vpc-00000000000000000"
    security_group_ids: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict) -> "NodeRecord":
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown node record fields: {', '.join(unknown)}")
        values = dict(data)
        if "security_group_ids" in values:
            values["security_group_ids"] = tuple(values["security_group_ids"])
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def http_tokens_for(imds_support: str | None) -> str:
    """HttpTokens of a cluster's nodes from the config's Imds/ImdsSupport (v2.0 unless it says v1.0)."""
    return "optional" if imds_support == "v1.0" else "required"


def _partition(region: str) -> tuple[str, str]:
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Tokens:
    """Issues and checks IMDSv2 session tokens: an expiry and the node they belong to, signed with a host key."""

    def __init__(self, key: bytes):
        self._key = key

    def _sign(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, payload, hashlib.sha256).digest()).decode().rstrip("=")

    def issue(self, node: str, ttl: int, now: float) -> str:
        payload = f"{int(now) + ttl}|{node}".encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._sign(payload)

    def valid(self, token: str, node: str, now: float) -> bool:
        encoded, _, signature = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            expiry, _, owner = payload.decode().partition("|")
            return (hmac.compare_digest(signature, self._sign(payload)) and owner == node
                    and int(expiry) > now)
        except ValueError:
            return False

    def secret(self, purpose: str, length: int, alphabet: str) -> str:
        """A stable pseudo-random string for `purpose` (fake credentials that stay the same within a period)."""
        digest = hmac.new(self._key, purpose.encode(), hashlib.sha512).digest()
        return "".join(alphabet[byte % len(alphabet)] for byte in digest[:length])


UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
MIXED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def credentials(record: NodeRecord, tokens: Tokens, now: float) -> dict:
    """Temporary credentials of the node's role: the same within an hour, valid for six, as EC2 hands them out."""
    start = int(now) // CREDENTIAL_PERIOD * CREDENTIAL_PERIOD
    seed = f"{record.instance_id}|{record.role_name}|{start}"
    return {
        "Code": "Success",
        "LastUpdated": _iso(start),
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIA" + tokens.secret(seed + "|id", 16, UPPER),
        "SecretAccessKey": tokens.secret(seed + "|secret", 40, MIXED),
        "Token": "IQoJb3JpZ2luX2Vj" + tokens.secret(seed + "|token", 60, MIXED),
        "Expiration": _iso(start + 6 * CREDENTIAL_PERIOD),
    }


def identity_document(record: NodeRecord) -> dict:
    return {
        "accountId": record.account_id, "architecture": record.architecture,
        "availabilityZone": record.availability_zone, "billingProducts": None, "devpayProductCodes": None,
        "marketplaceProductCodes": None, "imageId": record.ami_id, "instanceId": record.instance_id,
        "instanceType": record.instance_type, "kernelId": None, "pendingTime": _iso(record.launch_time),
        "privateIp": record.local_ipv4, "ramdiskId": None, "region": record.region, "version": "2017-09-30",
    }


def _interface(record: NodeRecord) -> dict:
    groups = "\n".join(record.security_group_ids)
    interface = {
        "device-number": "0", "interface-id": "eni-" + record.instance_id.removeprefix("i-"),
        "local-hostname": record.local_hostname, "local-ipv4s": record.local_ipv4, "mac": record.mac,
        "owner-id": record.account_id, "security-group-ids": groups, "security-groups": groups,
        "subnet-id": record.subnet_id, "vpc-id": record.vpc_id,
    }
    if record.subnet_cidr:
        interface.update({"subnet-ipv4-cidr-block": record.subnet_cidr, "vpc-ipv4-cidr-block": record.subnet_cidr,
                          "vpc-ipv4-cidr-blocks": record.subnet_cidr})
    return interface


def metadata_tree(record: NodeRecord, tokens: Tokens, now: float) -> dict:
    """The node's /latest tree: nested dicts are directories, strings are values."""
    partition, domain = _partition(record.region)
    placement = {"availability-zone": record.availability_zone, "region": record.region}
    if record.availability_zone_id:
        placement["availability-zone-id"] = record.availability_zone_id
    meta = {
        "ami-id": record.ami_id, "ami-launch-index": "0", "ami-manifest-path": "(unknown)",
        "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda"},
        "events": {"maintenance": {"history": "[]", "scheduled": "[]"}},
        "hostname": record.hostname or record.local_hostname, "instance-action": "none",
        "instance-id": record.instance_id, "instance-life-cycle": "on-demand",
        "instance-type": record.instance_type, "local-hostname": record.local_hostname,
        "local-ipv4": record.local_ipv4, "mac": record.mac,
        "network": {"interfaces": {"macs": {record.mac: _interface(record)}}},
        "placement": placement, "profile": "default-hvm",
        "reservation-id": "r-" + record.instance_id.removeprefix("i-"),
        "security-groups": "\n".join(record.security_group_ids),
        "services": {"domain": domain, "partition": partition}, "system": "nitro",
    }
    if record.role_name:
        profile = record.instance_profile_name or record.role_name
        meta["iam"] = {
            "info": json.dumps({
                "Code": "Success", "LastUpdated": _iso(record.launch_time),
                "InstanceProfileArn": f"arn:{partition}:iam::{record.account_id}:instance-profile/{profile}",
                "InstanceProfileId": "AIPA" + tokens.secret(f"{record.account_id}|{profile}", 17, UPPER),
            }, indent=2),
            "security-credentials": {record.role_name: json.dumps(credentials(record, tokens, now), indent=2)},
        }
    if record.tags is not None:
        meta["tags"] = {"instance": dict(record.tags)}
    latest = {"meta-data": meta,
              "dynamic": {"instance-identity": {"document": json.dumps(identity_document(record), indent=2)}}}
    if record.user_data is not None:
        latest["user-data"] = record.user_data
    return latest


def _lookup(tree: dict, parts: list[str]) -> dict | str | None:
    node: dict | str = tree
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _listing(directory: dict) -> str:
    return "\n".join(name + "/" if isinstance(value, dict) else name for name, value in sorted(directory.items()))


Response = tuple[int, dict[str, str], str]


def _text(status: int, body: str, extra: dict[str, str] | None = None) -> Response:
    return status, {"Content-Type": "text/plain", **(extra or {})}, body


def _not_found() -> Response:
    return 404, {"Content-Type": "text/html"}, NOT_FOUND_BODY


def answer(record: NodeRecord, tokens: Tokens, method: str, path: str, headers: dict[str, str],
           now: float | None = None) -> Response:
    """EC2's answer to one request from the node; `headers` keys are matched case-insensitively."""
    now = time.time() if now is None else now
    headers = {name.lower(): value for name, value in headers.items()}
    path = path.split("?", 1)[0]
    if path.rstrip("/") == TOKEN_PATH:
        if method != "PUT":
            return 405, {"Allow": "PUT", "Content-Type": "text/plain"}, ""
        if "x-forwarded-for" in headers:  # EC2 refuses token requests that went through a proxy
            return _text(403, "")
        ttl = headers.get(TTL_HEADER.lower(), "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL:
            return _text(400, "")
        return _text(200, tokens.issue(record.instance_id, int(ttl), now), {TTL_HEADER: ttl})
    if method not in ("GET", "HEAD"):
        return 405, {"Allow": "GET, HEAD, PUT", "Content-Type": "text/plain"}, ""
    token = headers.get(TOKEN_HEADER.lower())
    if token is not None and not tokens.valid(token, record.instance_id, now):
        return _text(401, "")
    if token is None and record.http_tokens == "required":
        return _text(401, "")
    parts = [part for part in path.split("/") if part]
    if not parts:
        return _text(200, "\n".join(VERSIONS))
    if parts[0] not in VERSIONS:
        return _not_found()
    found = _lookup(metadata_tree(record, tokens, now), parts[1:])
    if found is None:
        return _not_found()
    return _text(200, _listing(found) if isinstance(found, dict) else found)
