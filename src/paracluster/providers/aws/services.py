"""The AWS services behind the provider's `services`: EC2 key pairs, S3 buckets and Secrets Manager secrets.

Storage and accounting databases are AWS services a user manages in AWS itself (EFS, FSx, EBS, RDS); the aws
provider does not wrap them.
"""

from __future__ import annotations

from pathlib import Path

from paracluster.errors import BadRequestError, NotAvailableError, NotFoundError


def _key_pair_view(pair: dict) -> dict:
    view = {"keyName": pair["KeyName"], "keyFingerprint": pair.get("KeyFingerprint"), "keyType": pair.get("KeyType")}
    if pair.get("KeyPairId"):
        view["keyPairId"] = pair["KeyPairId"]
    return view


class AwsKeyPairs:
    """EC2 key pairs of the region; the private key of a new pair is returned once, as EC2 returns it."""

    def __init__(self, session_of):
        self._session_of = session_of

    def create(self, name: str) -> dict:
        pair = self._session_of().call(f"create key pair '{name}'", "ec2", "create_key_pair", KeyName=name,
                                       KeyType="ed25519")
        return {**_key_pair_view(pair), "keyMaterial": pair["KeyMaterial"]}

    def import_public_key(self, name: str, public_key: str) -> dict:
        pair = self._session_of().call(f"import key pair '{name}'", "ec2", "import_key_pair", KeyName=name,
                                       PublicKeyMaterial=public_key.encode())
        return _key_pair_view(pair)

    def describe(self) -> list[dict]:
        pairs = self._session_of().call("describe key pairs", "ec2", "describe_key_pairs")["KeyPairs"]
        return [_key_pair_view(pair) for pair in sorted(pairs, key=lambda pair: pair["KeyName"])]

    def delete(self, name: str) -> None:
        session = self._session_of()
        session.call(f"find key pair '{name}'", "ec2", "describe_key_pairs", KeyNames=[name])
        session.call(f"delete key pair '{name}'", "ec2", "delete_key_pair", KeyName=name)


def parse_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise BadRequestError(f"'{url}' is not an s3:// URL; write s3://BUCKET/KEY")
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


class AwsBuckets:
    """S3 buckets of the account, for s3:// scripts and data that configs name."""

    def __init__(self, session_of):
        self._session_of = session_of

    def put(self, source: Path, url: str) -> list[str]:
        bucket, key = parse_url(url)
        if not source.exists():
            raise BadRequestError(f"failed to upload {source}: no such file or directory")
        files = sorted(path for path in source.rglob("*") if path.is_file()) if source.is_dir() else [source]
        uploaded = []
        for path in files:
            if source.is_dir():
                target = f"{key.rstrip('/')}/{path.relative_to(source).as_posix()}".lstrip("/")
            else:
                target = f"{key}{path.name}" if not key or key.endswith("/") else key
            self._session_of().call(f"upload {path} to s3://{bucket}/{target}", "s3", "upload_file",
                                    Filename=str(path), Bucket=bucket, Key=target)
            uploaded.append(f"s3://{bucket}/{target}")
        return uploaded

    def get(self, url: str, destination: Path) -> str:
        bucket, key = parse_url(url)
        if destination.is_dir():
            destination = destination / key.rsplit("/", 1)[-1]
        self._session_of().call(f"download {url}", "s3", "download_file", Bucket=bucket, Key=key,
                                Filename=str(destination))
        return str(destination)

    def list(self, url: str | None) -> list[dict]:
        session = self._session_of()
        if url is None:
            return [{"bucket": item["Name"]} for item in session.call("list buckets", "s3", "list_buckets")["Buckets"]]
        bucket, prefix = parse_url(url)
        objects = session.pages(f"list {url}", "s3", "list_objects_v2", "Contents", Bucket=bucket, Prefix=prefix)
        return [{"key": item["Key"], "size": item["Size"], "url": f"s3://{bucket}/{item['Key']}"} for item in objects]

    def remove(self, url: str) -> list[str]:
        """Remove an object, every object under a prefix ending in '/', or a whole bucket (`s3://bucket`)."""
        session = self._session_of()
        bucket, key = parse_url(url)
        if key and not key.endswith("/"):
            session.call(f"find {url}", "s3", "head_object", Bucket=bucket, Key=key)
            session.call(f"remove {url}", "s3", "delete_object", Bucket=bucket, Key=key)
            return [url]
        removed = [item["url"] for item in self.list(url)]
        for item in removed:
            session.call(f"remove {item}", "s3", "delete_object", Bucket=bucket, Key=parse_url(item)[1])
        if not key:
            session.call(f"remove bucket {bucket}", "s3", "delete_bucket", Bucket=bucket)
        elif not removed:
            raise NotFoundError(f"{url} does not exist")
        return removed


class AwsSecrets:
    """Secrets Manager secrets; values are never listed."""

    def __init__(self, session_of):
        self._session_of = session_of

    def check_arn(self, arn: str) -> None:
        if not (arn.startswith("arn:") and ":secretsmanager:" in arn and ":secret:" in arn):
            raise BadRequestError(f"'{arn}' is not a Secrets Manager secret ARN; write it as "
                                  "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME")

    def put(self, arn: str, value: bytes) -> None:
        """Store a new value in the secret; a secret that does not exist is created under the ARN's name."""
        self.check_arn(arn)
        session = self._session_of()
        try:
            payload = {"SecretString": value.decode()}
        except UnicodeDecodeError:
            payload = {"SecretBinary": value}
        try:
            session.call(f"store a value in secret {arn}", "secretsmanager", "put_secret_value", SecretId=arn,
                         **payload)
        except NotFoundError:
            name = arn.split(":secret:", 1)[1]
            session.call(f"create secret {name}", "secretsmanager", "create_secret", Name=name, **payload)

    def list_arns(self) -> list[str]:
        secrets = self._session_of().pages("list secrets", "secretsmanager", "list_secrets", "SecretList")
        return sorted(secret["ARN"] for secret in secrets)

    def delete(self, arn: str) -> None:
        # At once, as the local store does, so that the name can be used again right away.
        self._session_of().call(f"delete secret {arn}", "secretsmanager", "delete_secret", SecretId=arn,
                                ForceDeleteWithoutRecovery=True)


class AwsServices:
    """The AWS services of the aws provider, in the default region of the request."""

    def __init__(self, session_of):
        self.key_pairs = AwsKeyPairs(session_of)
        self.buckets = AwsBuckets(session_of)
        self.secrets = AwsSecrets(session_of)

    def storage(self, action: str, **request) -> dict:
        raise NotAvailableError("on the aws provider, file systems, volumes and file caches are made in AWS itself "
                                "(EFS, FSx, EBS); name their ids in the configuration")

    def accounting(self, action: str, **request) -> dict:
        raise NotAvailableError("on the aws provider, the accounting database is one you run in AWS (such as "
                                "Amazon RDS for MySQL); name it under Scheduling/SlurmSettings/Database")
