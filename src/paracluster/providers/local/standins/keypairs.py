"""Local key pairs, the stand-in for EC2 key pairs: created on first use or imported, kept under the state directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

from paracluster.errors import BadRequestError, ConflictError, NotFoundError
from paracluster.providers.local.host import commands as hostcmd

_NAME = re.compile(r"^[A-Za-z0-9_.@-][A-Za-z0-9 _.@-]{0,254}$")


class KeyPair:
    """A key pair: its name, its public key and, when ParaCluster made it, the path of its private key."""

    def __init__(self, name: str, public_key: str, private_key_path: Path | None):
        self.name, self.public_key, self.private_key_path = name, public_key, private_key_path

    def fingerprint(self) -> str:
        result = hostcmd.run(["ssh-keygen", "-l", "-f", "/dev/stdin"], input=self.public_key + "\n")
        return result.stdout.split()[1] if result.returncode == 0 else ""

    def describe(self) -> dict:
        body = {"keyName": self.name, "keyFingerprint": self.fingerprint(), "keyType": self.public_key.split()[0]}
        if self.private_key_path:
            body["privateKeyFile"] = str(self.private_key_path)
        return body


def _dir(state_dir: Path) -> Path:
    path = Path(state_dir) / "keypairs"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise BadRequestError(f"key pair name '{name}' is invalid; use letters, digits, spaces and - _ . @")


def get(state_dir: Path, name: str) -> KeyPair:
    directory = _dir(state_dir)
    public = directory / f"{name}.pub"
    if not public.exists():
        raise NotFoundError(f"key pair '{name}' does not exist; create it with `paracluster create-key-pair -k {name}`")
    private = directory / f"{name}.pem"
    return KeyPair(name, public.read_text().strip(), private if private.exists() else None)


def create(state_dir: Path, name: str) -> KeyPair:
    """Make a new ed25519 key pair; its private key stays in the state directory (mode 0600)."""
    _check_name(name)
    directory = _dir(state_dir)
    if (directory / f"{name}.pub").exists():
        raise ConflictError(f"key pair '{name}' already exists; delete it first or use it as it is")
    generate_ed25519(directory / f"{name}.pem", directory / f"{name}.pub", f"paracluster-{name}")
    return get(state_dir, name)


def generate_ed25519(private: Path, public: Path, comment: str) -> None:
    """Make an ed25519 key into `private` (0600) and `public` atomically, the public key last.

    A key counts as present once its public file exists, so an interrupted run leaves nothing that blocks the next.
    """
    temporary = private.with_name(f".{private.name}.{os.getpid()}.tmp")
    for leftover in (temporary, temporary.with_name(temporary.name + ".pub")):
        leftover.unlink(missing_ok=True)
    hostcmd.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(temporary)],
                check=True, what=f"make an ssh key {private.name}")
    temporary.chmod(0o600)
    os.replace(temporary, private)
    os.replace(temporary.with_name(temporary.name + ".pub"), public)


def ensure(state_dir: Path, name: str) -> KeyPair:
    """The key pair `name`, created on first use (as EC2 would need it imported, the local provider makes it)."""
    try:
        return get(state_dir, name)
    except NotFoundError:
        return create(state_dir, name)


def import_public_key(state_dir: Path, name: str, public_key: str) -> KeyPair:
    """Register someone's public key under `name` (the private key stays with them)."""
    _check_name(name)
    text = public_key.strip()
    check = hostcmd.run(["ssh-keygen", "-l", "-f", "/dev/stdin"], input=text + "\n")
    if check.returncode != 0 or len(text.splitlines()) != 1:
        raise BadRequestError("the public key file does not hold one OpenSSH public key (ssh-ed25519 AAAA... or "
                              "ssh-rsa AAAA...); pass the .pub file")
    directory = _dir(state_dir)
    if (directory / f"{name}.pub").exists():
        raise ConflictError(f"key pair '{name}' already exists; delete it first")
    (directory / f"{name}.pub").write_text(text + "\n")
    return get(state_dir, name)


def list_pairs(state_dir: Path) -> list[KeyPair]:
    return [get(state_dir, path.stem) for path in sorted(_dir(state_dir).glob("*.pub"))]


def delete(state_dir: Path, name: str) -> None:
    get(state_dir, name)
    for suffix in (".pub", ".pem"):
        (_dir(state_dir) / f"{name}{suffix}").unlink(missing_ok=True)
