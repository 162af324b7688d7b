"""The local secret store served as AWS Secrets Manager (reads): GetSecretValue, DescribeSecret, ListSecrets,
BatchGetSecretValue.

The store (secrets.py) stays the only copy: every request reads it, so `paracluster secrets put` is visible at once.
A secret is found by its full ARN, by its name (the ARN's part after `secret:`), by that name without the 6-character
suffix Secrets Manager appends, or by the ARN without that suffix (a partial ARN), as Secrets Manager resolves them;
the region and account in a stored ARN are not compared with the caller's. Writes go through `paracluster secrets`
on the host, so write operations answer with an error that says so. The wire protocol is AWS JSON 1.1
(`X-Amz-Target: secretsmanager.<Operation>`).

Run: python -m paracluster.providers.local.standins.awsapi.secretsmanager --state-dir D --address A --port P --record R
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from paracluster.providers.local.standins import secrets
from paracluster.providers.local.standins.awsapi import process

CONTENT_TYPE = "application/x-amz-json-1.1"
SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
CURRENT = "AWSCURRENT"
MAX_RESULTS = 100


class ApiError(Exception):
    """An error Secrets Manager would return: its type name and message."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _not_found() -> ApiError:
    return ApiError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")


def secret_name(arn: str) -> str:
    return arn.split(":secret:", 1)[1]


def resolve(arns: list[str], secret_id: str) -> str:
    """The stored ARN that `secret_id` names (full ARN, name, name without suffix, or partial ARN)."""
    if not secret_id:
        raise ApiError("InvalidParameterException", "You must provide a SecretId.")
    if secret_id in arns:
        return secret_id
    for matches in (lambda arn: secret_name(arn) == secret_id,
                    lambda arn: SUFFIX.sub("", secret_name(arn)) == secret_id,
                    lambda arn: SUFFIX.sub("", arn) == secret_id):
        found = [arn for arn in arns if matches(arn)]
        if len(found) == 1:
            return found[0]
    raise _not_found()


def version_id(value: str) -> str:
    """A version id that changes exactly when the value does (a UUID made from its digest)."""
    return str(uuid.UUID(bytes=hashlib.sha256(value.encode()).digest()[:16], version=4))


class Store:
    """Answers the operations from the secret store of a state directory."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)

    def _value(self, arn: str) -> str:
        try:
            return secrets.get(self.state_dir, arn, "the request")
        except LookupError:  # deleted between listing and reading
            raise _not_found() from None
        except UnicodeDecodeError:
            raise ApiError("InternalServiceError", f"the stored value of {arn} is not UTF-8 text; store it again "
                           "with `paracluster secrets put` as text (for example base64)") from None

    def _entry(self, arn: str, versions_key: str = "VersionIdsToStages") -> dict:
        """DescribeSecret's answer; ListSecrets names the version map SecretVersionsToStages."""
        return {"ARN": arn, "Name": secret_name(arn), versions_key: {version_id(self._value(arn)): [CURRENT]},
                "Tags": []}

    def _value_entry(self, arn: str) -> dict:
        value = self._value(arn)
        return {"ARN": arn, "Name": secret_name(arn), "VersionId": version_id(value), "SecretString": value,
                "VersionStages": [CURRENT]}

    def GetSecretValue(self, SecretId: str = "", VersionId: str | None = None, VersionStage: str | None = None,
                       **_: object) -> dict:
        entry = self._value_entry(resolve(secrets.list_arns(self.state_dir), SecretId))
        if (VersionId and VersionId != entry["VersionId"]) or (VersionStage and VersionStage != CURRENT):
            raise ApiError("ResourceNotFoundException",
                           "Secrets Manager can't find the specified secret value for the given version.")
        return entry

    def DescribeSecret(self, SecretId: str = "", **_: object) -> dict:
        return self._entry(resolve(secrets.list_arns(self.state_dir), SecretId))

    def _filtered(self, filters: list[dict]) -> list[str]:
        arns = secrets.list_arns(self.state_dir)
        for item in filters or []:
            key, values = item.get("Key"), item.get("Values") or []
            if key not in ("name", "all"):
                return []  # descriptions, tags, owning services and primary regions: the store has none
            wanted = [value for value in values if not value.startswith("!")]
            unwanted = [value[1:] for value in values if value.startswith("!")]
            arns = [arn for arn in arns
                    if (not wanted or any(secret_name(arn).startswith(value) for value in wanted))
                    and not any(secret_name(arn).startswith(value) for value in unwanted)]
        return arns

    @staticmethod
    def _page(items: list, max_results: int | None, token: str | None) -> tuple[list, str | None]:
        start = int(token) if token and token.isdigit() else 0
        size = max(1, min(int(max_results or MAX_RESULTS), MAX_RESULTS))
        return items[start:start + size], (str(start + size) if start + size < len(items) else None)

    def ListSecrets(self, Filters: list | None = None, MaxResults: int | None = None, NextToken: str | None = None,
                    SortOrder: str = "asc", **_: object) -> dict:
        arns = sorted(self._filtered(Filters or []), key=secret_name, reverse=SortOrder == "desc")
        page, token = self._page(arns, MaxResults, NextToken)
        answer = {"SecretList": [self._entry(arn, "SecretVersionsToStages") for arn in page]}
        return {**answer, "NextToken": token} if token else answer

    def BatchGetSecretValue(self, SecretIdList: list | None = None, Filters: list | None = None,
                            MaxResults: int | None = None, NextToken: str | None = None, **_: object) -> dict:
        if bool(SecretIdList) == bool(Filters):
            raise ApiError("InvalidParameterException", "Specify either SecretIdList or Filters, not both.")
        values, errors = [], []
        if SecretIdList:
            arns = secrets.list_arns(self.state_dir)
            for secret_id in SecretIdList:
                try:
                    values.append(self._value_entry(resolve(arns, secret_id)))
                except ApiError as error:
                    errors.append({"SecretId": secret_id, "ErrorCode": error.kind, "Message": str(error)})
            return {"SecretValues": values, "Errors": errors}
        page, token = self._page(self._filtered(Filters or []), MaxResults, NextToken)
        answer = {"SecretValues": [self._value_entry(arn) for arn in page], "Errors": []}
        return {**answer, "NextToken": token} if token else answer


READS = frozenset({"GetSecretValue", "DescribeSecret", "ListSecrets", "BatchGetSecretValue"})


class Handler(BaseHTTPRequestHandler):
    """One AWS JSON 1.1 request per POST: X-Amz-Target names the operation, the body holds its parameters."""

    protocol_version = "HTTP/1.1"
    server_version = "ParaCluster-SecretsManager"
    store: Store

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = (self.headers.get("X-Amz-Target") or "").removeprefix("secretsmanager.")
        try:
            if operation not in READS:
                raise ApiError("InvalidRequestException",
                               f"ParaCluster's local Secrets Manager serves reads only ({', '.join(sorted(READS))}); "
                               f"store secrets on the host with `paracluster secrets put ARN`, not {operation}.")
            try:
                parameters = json.loads(body or b"{}")
            except ValueError:
                raise ApiError("SerializationException", "The request body is not valid JSON.") from None
            if not isinstance(parameters, dict):
                raise ApiError("SerializationException", "The request body is not a JSON object.")
            try:
                answer = getattr(self.store, operation)(**parameters)
            except (TypeError, AttributeError, ValueError) as error:
                raise ApiError("InvalidParameterException", f"invalid parameters for {operation}: {error}") from None
            self._reply(200, answer)
        except ApiError as error:
            self._reply(400, {"__type": error.kind, "message": str(error)})

    def _reply(self, status: int, answer: dict) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        logging.getLogger("paracluster.secretsmanager").info("%s %s", self.address_string(), format % args)


def make_server(state_dir: Path, address: str, port: int) -> ThreadingHTTPServer:
    handler = type("Handler", (Handler,), {"store": Store(state_dir)})
    server = ThreadingHTTPServer((address, port), handler)
    server.daemon_threads = True
    return server



if __name__ == "__main__":
    process.run_http_server("ParaCluster's Secrets Manager endpoint for the local secret store", make_server)
