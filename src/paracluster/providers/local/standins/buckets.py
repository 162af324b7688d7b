"""Local object buckets: what `s3://bucket/key` means on the local provider (a directory per bucket).

Buckets live under `<state_dir>/buckets/<bucket>/`; an object's key is its path below that directory. Users fill
them with `paracluster s3 cp`; custom action scripts and FSx data repository associations read from them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from paracluster.errors import BadRequestError, NotFoundError

# S3's rules for bucket names (lower case letters, digits, dots and hyphens; 3-63 characters).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def parse_url(url: str) -> tuple[str, str]:
    """(bucket, key) of an `s3://bucket/key` URL; the key may be empty or a prefix ending in '/'."""
    if not url.startswith("s3://"):
        raise BadRequestError(f"'{url}' is not an s3:// URL; write s3://BUCKET/KEY")
    bucket, _, key = url[len("s3://"):].partition("/")
    if not _BUCKET.match(bucket):
        raise BadRequestError(f"'{bucket}' in '{url}' is not a valid bucket name (3-63 lower case letters, digits, "
                              "dots or hyphens)")
    if any(part in ("..", ".") for part in key.split("/")):
        raise BadRequestError(f"'{url}' has a '.' or '..' path segment; object keys may not")
    return bucket, key


def buckets_root(state_dir: Path) -> Path:
    return state_dir / "buckets"


def object_path(state_dir: Path, url: str) -> Path:
    """The file behind an existing object; NotFoundError naming the URL and the command that fills it if missing."""
    bucket, key = parse_url(url)
    bucket_dir = buckets_root(state_dir) / bucket
    if not bucket_dir.is_dir():
        raise NotFoundError(f"bucket '{bucket}' of {url} does not exist; create it with "
                            f"`paracluster s3 cp FILE {url}`")
    path = bucket_dir / key
    if not key or not path.is_file():
        raise NotFoundError(f"object {url} does not exist; upload it with `paracluster s3 cp FILE {url}`")
    return path


def prefix_path(state_dir: Path, url: str) -> Path:
    """The directory behind an `s3://bucket/prefix/` (which may not exist yet)."""
    bucket, key = parse_url(url)
    return buckets_root(state_dir) / bucket / key


def put(state_dir: Path, source: Path, url: str) -> str:
    """Copy a local file (or a directory, recursively) to the object or prefix `url`; return the URL(s) root."""
    bucket, key = parse_url(url)
    if not source.exists():
        raise BadRequestError(f"failed to upload {source}: no such file or directory")
    target = buckets_root(state_dir) / bucket / key
    # Objects can be anything a user uploads: the state directory stays root's alone.
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
        return url
    if not key or key.endswith("/"):
        target = target / source.name
        url = f"s3://{bucket}/{key}{source.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return url


def get(state_dir: Path, url: str, destination: Path) -> Path:
    """Copy an object to a local file (into `destination` if it is a directory)."""
    source = object_path(state_dir, url)
    if destination.is_dir():
        destination = destination / source.name
    shutil.copyfile(source, destination)
    return destination


def list_objects(state_dir: Path, url: str | None = None) -> list[dict]:
    """Objects under an `s3://bucket/prefix` (every bucket's objects without one), as S3 lists them."""
    root = buckets_root(state_dir)
    if url is None:
        return [{"bucket": path.name} for path in sorted(root.iterdir()) if path.is_dir()] if root.is_dir() else []
    bucket, prefix = parse_url(url)
    bucket_dir = root / bucket
    if not bucket_dir.is_dir():
        raise NotFoundError(f"bucket '{bucket}' does not exist")
    found = []
    for path in sorted(bucket_dir.rglob("*")):
        key = path.relative_to(bucket_dir).as_posix()
        if path.is_file() and key.startswith(prefix):
            found.append({"key": key, "size": path.stat().st_size, "url": f"s3://{bucket}/{key}"})
    return found


def remove(state_dir: Path, url: str) -> list[str]:
    """Remove an object, or every object under a prefix ending in '/', or a whole bucket (`s3://bucket`)."""
    bucket, key = parse_url(url)
    bucket_dir = buckets_root(state_dir) / bucket
    path = bucket_dir / key
    if not path.exists():
        raise NotFoundError(f"{url} does not exist")
    removed = [item["url"] for item in list_objects(state_dir, url)] if path.is_dir() else [url]
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    return removed
