"""How the runner reaches S3 and the web: the transfer interface, and an implementation on plain directories.

The runner needs four primitives (list, get and put objects, fetch a URL); where they lead is the caller's choice.
DirectoryTransfer serves buckets from a directory laid out as the local provider's (`<root>/<bucket>/<key>`) and URLs
from `<web root>/<host>/<path>`: tests use it, and a build node that has the buckets directory mounted can too.
Standard library only.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse


class TransferError(Exception):
    """A transfer failed; `permanent` errors (a missing object, a 404) are not worth retrying."""

    def __init__(self, message: str, permanent: bool = True):
        super().__init__(message)
        self.permanent = permanent


class Transfer:
    """The interface: subclasses implement every method."""

    def list_objects(self, bucket: str, prefix: str, expected_owner: str | None = None) -> list[str]:
        """The keys under `prefix`, sorted."""
        raise NotImplementedError

    def download_object(self, bucket: str, key: str, path: str, expected_owner: str | None = None) -> None:
        raise NotImplementedError

    def upload_object(self, path: str, bucket: str, key: str, expected_owner: str | None = None) -> None:
        raise NotImplementedError

    def download_url(self, url: str, path: str, verify_tls: bool = True) -> None:
        raise NotImplementedError


class NoTransfer(Transfer):
    """What a run gets when its caller wired no transfer: every call fails with a sentence saying so."""

    def _refuse(self, *args, **kwargs):
        raise TransferError("this run has no S3 or web access (no transfer was configured for it)")

    list_objects = download_object = upload_object = download_url = _refuse


class DirectoryTransfer(Transfer):
    """Buckets and web servers as directories; `account_id` is the owner every bucket has."""

    def __init__(self, buckets_root: str, web_root: str | None = None, account_id: str | None = None):
        self.buckets_root, self.web_root, self.account_id = buckets_root, web_root, account_id

    def _bucket(self, bucket: str, expected_owner: str | None) -> str:
        path = os.path.join(self.buckets_root, bucket)
        if not os.path.isdir(path):
            raise TransferError(f"bucket '{bucket}' does not exist")
        if expected_owner and self.account_id and expected_owner != self.account_id:
            raise TransferError(f"bucket '{bucket}' is owned by {self.account_id}, not by expectedBucketOwner "
                                f"{expected_owner}")
        return path

    def _object(self, bucket: str, key: str, expected_owner: str | None) -> str:
        root = self._bucket(bucket, expected_owner)
        path = os.path.normpath(os.path.join(root, key))
        if not path.startswith(root + os.sep):
            raise TransferError(f"key '{key}' leaves bucket '{bucket}'")
        return path

    def list_objects(self, bucket: str, prefix: str, expected_owner: str | None = None) -> list[str]:
        root = self._bucket(bucket, expected_owner)
        keys = []
        for folder, _, files in os.walk(root):
            for name in files:
                key = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def download_object(self, bucket: str, key: str, path: str, expected_owner: str | None = None) -> None:
        source = self._object(bucket, key, expected_owner)
        if not os.path.isfile(source):
            raise TransferError(f"object s3://{bucket}/{key} does not exist")
        shutil.copyfile(source, path)

    def upload_object(self, path: str, bucket: str, key: str, expected_owner: str | None = None) -> None:
        target = self._object(bucket, key, expected_owner)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)

    def download_url(self, url: str, path: str, verify_tls: bool = True) -> None:
        if self.web_root is None:
            raise TransferError(f"cannot download {url}: this run has no web access")
        parts = urllib.parse.urlsplit(url)
        source = os.path.normpath(os.path.join(self.web_root, parts.netloc, parts.path.lstrip("/")))
        if not source.startswith(os.path.normpath(self.web_root) + os.sep) or not os.path.isfile(source):
            raise TransferError(f"{url} answered 404 Not Found")
        shutil.copyfile(source, path)
