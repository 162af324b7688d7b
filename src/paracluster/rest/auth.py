"""API tokens of the REST server: created, listed and revoked with `paracluster api token`, kept hashed.

A token is shown once, when it is created; the state directory keeps only its SHA-256 digest (tokens are 256 random
bits, so a fast digest is enough: there is nothing to guess), in `<state_dir>/api/tokens.json` (0600, directory
0700). The server reads the file again whenever it changes, so a revoked token stops working at its next request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import secrets
import threading
from pathlib import Path

from paracluster.errors import BadRequestError, NotFoundError
from paracluster.records import now

PREFIX = "pcl_"
MAX_NAME = 64


@dataclasses.dataclass(frozen=True)
class Token:
    """A stored token: its id and name, whether it may only read, when it was made, and its digest."""

    id: str
    name: str | None
    read_only: bool
    created_time: str
    digest: str

    def describe(self) -> dict:
        return {"id": self.id, "name": self.name, "readOnly": self.read_only, "createdTime": self.created_time}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The tokens of one state directory."""

    def __init__(self, state_dir: Path):
        self.directory = Path(state_dir) / "api"
        self.path = self.directory / "tokens.json"
        self._cache: tuple[tuple[int, int, int], dict[str, Token]] | None = None
        self._cache_lock = threading.Lock()

    # --- changes (the CLI) --------------------------------------------------------------------------------------

    def create(self, name: str | None = None, read_only: bool = False) -> dict:
        """Make a token; the answer holds the token itself, which is never shown again."""
        if name is not None and not (0 < len(name) <= MAX_NAME and name.isprintable()):
            raise BadRequestError(f"--name '{name}' is invalid; use 1 to {MAX_NAME} printable characters")
        token = PREFIX + secrets.token_urlsafe(32)
        entry = Token(id="tok-" + secrets.token_hex(4), name=name, read_only=read_only, created_time=now(),
                      digest=digest(token))
        with self._locked() as tokens:
            tokens.append(entry)
        return {"token": token, **entry.describe()}

    def list(self) -> list[dict]:
        return [entry.describe() for entry in self._read()]

    def revoke(self, token_id: str) -> dict:
        with self._locked() as tokens:
            kept = [entry for entry in tokens if entry.id != token_id]
            if len(kept) == len(tokens):
                raise NotFoundError(f"there is no API token '{token_id}'; see `paracluster api token list`")
            tokens[:] = kept
        return {"message": f"Revoked API token {token_id}."}

    @contextlib.contextmanager
    def _locked(self):
        """The token list, to change in place; saved atomically under a lock that other processes respect."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        with open(self.directory / "tokens.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tokens = self._read()
            yield tokens
            temporary = self.path.with_suffix(f".tmp{os.getpid()}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump([dataclasses.asdict(entry) for entry in tokens], out, indent=1)
            os.replace(temporary, self.path)

    def _read(self) -> list[Token]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        return [Token(**entry) for entry in data]

    # --- checks (the server) ------------------------------------------------------------------------------------

    def check(self, token: str) -> Token | None:
        """The stored token this one is, or None."""
        return self._by_digest().get(digest(token))

    def _by_digest(self) -> dict[str, Token]:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return {}
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # every save replaces the file (a new inode)
        with self._cache_lock:
            if self._cache is None or self._cache[0] != version:
                self._cache = (version, {entry.digest: entry for entry in self._read()})
            return self._cache[1]
