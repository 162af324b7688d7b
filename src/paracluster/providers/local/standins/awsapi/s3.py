"""The local buckets as an S3 endpoint: LocalBucket (a directory-backed S3 server) on `<state_dir>/buckets`.

LocalBucket keeps every object as a plain file at `<bucket>/<key>` with no side files, exactly the layout that
`paracluster s3` writes (buckets.py), so both see the same data, live and across restarts. The glue here points it
at the buckets, keeps its unfinished multipart uploads out of the buckets directory, and adds DeleteObjects (the
batch delete of boto3's `bucket.objects.delete()`), which LocalBucket lacks. Addressing is path-style, which the
AWS CLI and boto3 use for an endpoint URL given by IP address.

Run: python -m paracluster.providers.local.standins.awsapi.s3 --state-dir D --address A --port P --record R (endpoints.start)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from http.server import ThreadingHTTPServer
from pathlib import Path

import localbucket

from paracluster.providers.local.standins.awsapi import process
from paracluster.providers.local.standins.buckets import buckets_root

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_DELETE_KEYS = 1000  # S3's limit per DeleteObjects request


def uploads_dir(state_dir: Path) -> Path:
    """Unfinished multipart uploads: beside the buckets, never a directory that `paracluster s3 ls` would list."""
    return process.run_dir(state_dir) / "s3-uploads"


class BucketsHandler(localbucket.S3Handler):
    """LocalBucket's handler plus DeleteObjects."""

    def _post_request(self, bucket: str, key: str):
        if bucket and not key and "delete" in self.query:
            self._check_query("DeleteObjects", {"delete"})
            self._delete_objects(bucket, self._read_body())
            return
        super()._post_request(bucket, key)

    def _delete_objects(self, bucket: str, body: bytes) -> None:
        self._bucket_dir(bucket)
        try:
            request = ET.fromstring(body)
        except ET.ParseError:
            raise self._malformed_xml_error() from None
        tag = lambda name: f"{{{S3_NAMESPACE}}}{name}" if request.tag.startswith("{") else name  # noqa: E731
        keys = [item.findtext(tag("Key")) or "" for item in request.findall(tag("Object"))]
        if not keys or len(keys) > MAX_DELETE_KEYS:
            raise self._malformed_xml_error()
        quiet = (request.findtext(tag("Quiet")) or "").lower() == "true"
        result = ET.Element("DeleteResult", xmlns=S3_NAMESPACE)
        for key in keys:
            try:
                self._remove(bucket, key)
            except localbucket.S3Error as error:
                failed = ET.SubElement(result, "Error")
                for name, text in (("Key", key), ("Code", error.code), ("Message", error.message)):
                    ET.SubElement(failed, name).text = text
                continue
            if not quiet:
                ET.SubElement(ET.SubElement(result, "Deleted"), "Key").text = key
        self._send_xml(result)

    def _remove(self, bucket: str, key: str) -> None:
        """Delete one object (a missing one counts as deleted, as in S3) and the directories it leaves empty."""
        bucket_dir = self._bucket_dir(bucket).resolve()
        target = self._object_path(bucket, key)
        if target.is_file():
            target.unlink(missing_ok=True)
            parent = target.parent
            while parent != bucket_dir and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent


def make_server(state_dir: Path, address: str, port: int) -> ThreadingHTTPServer:
    """An S3 server on address:port for the buckets of `state_dir` (not yet serving)."""
    data_root = buckets_root(Path(state_dir))
    data_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    # LocalBucket joins this name to its data root; an absolute path replaces the root (pathlib semantics).
    localbucket.UPLOADS_DIR = str(uploads_dir(state_dir))
    handler = type("Handler", (BucketsHandler,), {"data_root": data_root.resolve()})
    server = ThreadingHTTPServer((address, port), handler)
    server.daemon_threads = True
    return server



if __name__ == "__main__":
    process.run_http_server("ParaCluster's S3 endpoint for the local buckets", make_server)
