"""AWS sessions of the aws provider: the region, boto3's credential chain and endpoints, clients with retries.

Credentials and endpoints come from boto3's usual chain, so `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, instance roles and
`AWS_ENDPOINT_URL` (how tests point the provider at moto) all work unchanged. Throttling and transient errors are
retried by botocore's standard retry mode with exponential backoff; what still fails becomes one sentence.
"""

from __future__ import annotations

import threading

from paracluster.errors import BadRequestError, ClusterError, ConflictError, NotAvailableError, NotFoundError

# botocore's standard mode retries throttling (Throttling, RequestLimitExceeded, TooManyRequestsException, ...),
# transient 5xx answers and connection errors, with exponential backoff and jitter.
RETRY_ATTEMPTS = 8
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "SlowDown", "ProvisionedThroughputExceededException",
})
NOT_FOUND_CODES = frozenset({"404", "NoSuchBucket", "NoSuchKey", "NoSuchEntity"})


def error_code(err: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_access_denied(err: Exception) -> bool:
    """Whether a ClusterError from `call` says the credentials may not do this (403, AccessDenied)."""
    text = str(err)
    return any(mark in text for mark in ("(403)", "(AccessDenied)", "(AccessDeniedException)", "(Forbidden)"))


def error_message(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(err)


class AwsSession:
    """One region's clients, made on first use and kept (each client costs botocore a model load)."""

    def __init__(self, region: str | None = None, retry_attempts: int = RETRY_ATTEMPTS):
        try:
            import boto3
        except ImportError:
            raise NotAvailableError("the aws provider needs boto3; install ParaCluster with its aws extra "
                                    "(pip install 'paracluster[aws]')") from None

        try:
            self._boto = boto3.session.Session(region_name=region or None)
        except Exception as err:  # noqa: BLE001 - a broken profile or config file is the user's to fix
            raise BadRequestError(f"failed to set up an AWS session: {err}; check AWS_PROFILE and ~/.aws/config") \
                from None
        self.region = self._boto.region_name
        if not self.region:
            raise BadRequestError(
                "no AWS region is set; pass --region, set Region in the cluster configuration, or set AWS_REGION"
            )
        self.retry_attempts = retry_attempts
        self._clients: dict[str, object] = {}
        # A boto3 session is not safe to make clients from in several threads at once; clients are.
        self._lock = threading.Lock()

    def client(self, service: str):
        with self._lock:
            return self._client(service)

    def _client(self, service: str):
        if service not in self._clients:
            from botocore.config import Config

            from paracluster import __version__

            config = Config(
                retries={"mode": "standard", "total_max_attempts": self.retry_attempts},
                user_agent_extra=f"paracluster/{__version__}",
                connect_timeout=10,
                read_timeout=60,
            )
            self._clients[service] = self._boto.client(service, config=config)
        return self._clients[service]

    def call(self, what: str, service: str, operation: str, **params):
        """Call one AWS API; its errors become one sentence `failed to <what>: <AWS's message>`."""
        return call(what, getattr(self.client(service), operation), **params)

    def pages(self, what: str, service: str, operation: str, key: str, **params) -> list:
        """Every item under `key` across the pages of a paginated AWS API."""
        paginator = self.client(service).get_paginator(operation)
        items: list = []
        try:
            for page in paginator.paginate(**params):
                items.extend(page.get(key, []))
        except Exception as err:  # noqa: BLE001 - translated below, as call() does
            raise translate(what, err) from None
        return items

    def account_id(self) -> str:
        return self.call("find the AWS account", "sts", "get_caller_identity")["Account"]


def call(what: str, function, **params):
    try:
        return function(**params)
    except Exception as err:  # noqa: BLE001 - every botocore failure becomes a ClusterError sentence
        raise translate(what, err) from None


def translate(what: str, err: Exception) -> ClusterError:
    """The ClusterError for a failed AWS call: throttling that outlasted the retries, missing credentials, ..."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    if isinstance(err, ClusterError):
        return err
    if isinstance(err, NoCredentialsError):
        return BadRequestError(
            f"failed to {what}: no AWS credentials were found; set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run on an instance with a role"
        )
    if isinstance(err, NoRegionError):
        return BadRequestError(f"failed to {what}: no AWS region is set; pass --region or set AWS_REGION")
    if isinstance(err, ClientError):
        code, message = error_code(err), error_message(err)
        if code in THROTTLING_CODES:
            return ClusterError(f"failed to {what}: AWS kept throttling the request ({code}) after "
                                f"{RETRY_ATTEMPTS} attempts; try again in a minute")
        if code.endswith(("NotFound", "NotFoundException")) or code in NOT_FOUND_CODES:
            return NotFoundError(f"failed to {what}: {message}")
        if code in ("AlreadyExistsException", "ResourceInUseException") or code.endswith(".Duplicate"):
            return ConflictError(f"failed to {what}: {message}")
        return ClusterError(f"failed to {what}: {message} ({code})")
    if isinstance(err, BotoCoreError):
        return ClusterError(f"failed to {what}: {err}")
    return ClusterError(f"failed to {what}: {type(err).__name__}: {err}")
