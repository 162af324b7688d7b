"""Local secrets, the stand-in for AWS Secrets Manager: values named by secret ARN, kept root-only in the state dir.

Layout: `<state_dir>/secrets/` (mode 0700) holds one file per secret (mode 0600), named by the ARN with its ':' and
'/' escaped. Values are never logged or returned by `list`; only the services that need a value read it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote, unquote

from paracluster.errors import BadRequestError, NotFoundError

# arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME (Secrets Manager adds a 6-character suffix to NAME).
ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]{1,512}$")
MAX_VALUE_BYTES = 65536  # Secrets Manager's limit on a secret's value


def check_arn(arn: str) -> None:
    if not ARN.match(arn or ""):
        raise BadRequestError(
            f"'{arn}' is not a Secrets Manager secret ARN; write it as "
            "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME (ACCOUNT is 12 digits)"
        )


def secrets_dir(state_dir: Path) -> Path:
    path = Path(state_dir) / "secrets"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _file(state_dir: Path, arn: str, create: bool = False) -> Path:
    return (secrets_dir(state_dir) if create else Path(state_dir) / "secrets") / quote(arn, safe="")


def put(state_dir: Path, arn: str, value: bytes) -> dict:
    """Store (or replace) a secret's value; a trailing newline (as `echo` writes) is not part of the value."""
    check_arn(arn)
    value = value.rstrip(b"\r\n")
    if not value:
        raise BadRequestError(f"failed to store secret {arn}: the value is empty")
    if len(value) > MAX_VALUE_BYTES:
        raise BadRequestError(f"failed to store secret {arn}: the value has {len(value)} bytes; at most "
                              f"{MAX_VALUE_BYTES} are allowed")
    path = _file(state_dir, arn, create=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(value)
    os.replace(temporary, path)
    return {"arn": arn}


def get(state_dir: Path, arn: str, purpose: str) -> str:
    """The value of a secret, as text; NotFoundError naming `purpose` (a YAML path) and the command that stores it."""
    path = _file(state_dir, arn) if ARN.match(arn or "") else None
    if path is None or not path.is_file():
        raise NotFoundError(
            f"the secret {arn} that {purpose} names is not in the local secret store; store it with "
            f"`paracluster secrets put {arn}` (the value is read from standard input)"
        )
    return path.read_text().rstrip("\r\n")


def exists(state_dir: Path, arn: str) -> bool:
    return bool(ARN.match(arn or "")) and _file(state_dir, arn).is_file()


def list_arns(state_dir: Path) -> list[str]:
    root = Path(state_dir) / "secrets"
    if not root.is_dir():
        return []
    return sorted(unquote(path.name) for path in root.iterdir() if path.is_file() and not path.name.endswith(".tmp"))


def delete(state_dir: Path, arn: str) -> None:
    check_arn(arn)
    path = _file(state_dir, arn)
    if not path.is_file():
        raise NotFoundError(f"secret {arn} does not exist; see `paracluster secrets list`")
    path.unlink()
