"""The local stand-in for EC2 Image Builder's components: create, list, get and delete, addressed by ARN.

A component is a checked AWSTOE document with a name and a semantic version, kept in a directory of its own under
`<state_dir>/imagebuilder/components/<region>/<name>/<version>/` (the document as given, and its record). Its ARN is
Image Builder's, `arn:aws:imagebuilder:<region>:<account>:component/<name>/<version>/1`, with the `account_id`
setting as the account, so ARNs written for a real account resolve locally once the setting names that account.
Like Image Builder, ARNs carry the name in lower case with spaces as hyphens, and a version may be matched with `x`
wildcards (`1.x.x`) when resolving; the build number is always 1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from paracluster.errors import BadRequestError, ConflictError, NotFoundError
from paracluster.images.document import component_type, load_document_text
from paracluster.images.execution import now

NAME = re.compile(r"^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):imagebuilder:(?P<region>[a-z0-9-]+):(?P<account>\d{12}|aws):component/"
    r"(?P<name>[a-z0-9_-]+)/(?P<version>(?:\d+|x)\.(?:\d+|x)\.(?:\d+|x))(?:/(?P<build>\d+))?$"
)
MAX_DATA = 16000  # CreateComponent's limit for inline data; larger documents go through an s3:// uri
PLATFORMS = ("Linux",)
BUILD = "1"


def read_local_object(state_dir: Path, url: str) -> bytes:
    """An s3:// object from the local provider's buckets (the one place component URIs are read from)."""
    from paracluster.providers.local.standins import buckets

    return buckets.object_path(state_dir, url).read_bytes()


def arn_name(name: str) -> str:
    """How Image Builder writes a name in an ARN: lower case, spaces as hyphens."""
    return name.lower().replace(" ", "-")


def request_id() -> str:
    return str(uuid.uuid4())


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class ComponentStore:
    """Components of one state directory; `read_object(url) -> bytes` reads --uri documents."""

    def __init__(self, state_dir: Path, account_id: str, read_object: Callable[[str], bytes] | None = None):
        self.root = Path(state_dir) / "imagebuilder" / "components"
        self.state_dir = Path(state_dir)
        self.account_id = account_id
        self.read_object = read_object or (lambda url: read_local_object(self.state_dir, url))

    def arn(self, region: str, name: str, version: str, build: bool = True) -> str:
        base = f"arn:aws:imagebuilder:{region}:{self.account_id}:component/{arn_name(name)}/{version}"
        return f"{base}/{BUILD}" if build else base

    def create(self, name: str, semantic_version: str, *, region: str, data: str | None = None,
               uri: str | None = None, platform: str = "Linux", description: str = "",
               change_description: str = "") -> dict:
        """Check and store a component; return its record (as get-component shows it)."""
        _check_create(name, semantic_version, region, data, uri, platform, description, change_description)
        if uri is not None:
            data = self._read_uri(uri)
        loaded = load_document_text(data, uri or "--data")
        document = loaded.require()
        record = {
            "arn": self.arn(region, name, semantic_version), "name": name, "version": semantic_version,
            "description": description, "changeDescription": change_description, "type": component_type(document),
            "platform": platform, "owner": self.account_id, "encrypted": False, "dateCreated": now(), "tags": {},
            "state": {"status": "ACTIVE"},
        }
        if not description:
            del record["description"]
        if not change_description:
            del record["changeDescription"]
        target = self.root / region / arn_name(name) / semantic_version
        if target.exists():
            raise ConflictError(f"component {record['arn']} already exists; create a new --semantic-version "
                                f"(versions of a component cannot be changed)")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".create-", dir=target.parent))
        (staging / "document.yaml").write_text(data)
        (staging / "component.json").write_text(json.dumps(record, indent=2))
        try:
            os.rename(staging, target)  # atomic: a concurrent create of the same version loses here
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            raise ConflictError(f"component {record['arn']} already exists; create a new --semantic-version") from None
        return self._with_data(target)

    def _read_uri(self, uri: str) -> str:
        if not uri.startswith("s3://"):
            raise BadRequestError(f"--uri '{uri}' is not an s3:// URL; upload the document with "
                                  f"`paracluster s3 cp FILE s3://BUCKET/KEY` and pass that URL")
        try:
            return self.read_object(uri).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestError(f"{uri} is not UTF-8 text; a component document is YAML") from None

    def list(self, region: str) -> list[dict]:
        """Every version of every component in the region, as list-components shows them."""
        found = []
        for path in sorted((self.root / region).glob("*/*/component.json")):
            record = json.loads(path.read_text())
            summary = {key: record[key] for key in ("name", "version", "description", "platform", "type", "owner",
                                                     "dateCreated") if key in record}
            found.append({"arn": record["arn"].rsplit("/", 1)[0], **summary})
        return sorted(found, key=lambda item: (item["name"], _version_key(item["version"])))

    def get(self, build_version_arn: str) -> dict:
        """A component by its build version ARN (`.../name/1.0.0/1`), with its document as `data`."""
        parts = self._parse(build_version_arn)
        if parts["build"] is None or "x" in parts["version"]:
            raise BadRequestError(f"'{build_version_arn}' is not a component build version ARN; it ends in "
                                  f"/<major>.<minor>.<patch>/<build>, such as {self.arn('us-east-1', 'name', '1.0.0')}")
        return self._with_data(self._directory(build_version_arn, parts))

    def delete(self, build_version_arn: str) -> str:
        """Delete a component version; return its ARN."""
        record = self.get(build_version_arn)
        parts = self._parse(build_version_arn)
        folder = self.root / parts["region"] / parts["name"]
        shutil.rmtree(folder / parts["version"])
        for empty in (folder, folder.parent):  # the name's and the region's folders go with their last component
            try:
                empty.rmdir()
            except OSError:
                break
        return record["arn"]

    def resolve(self, arn: str) -> dict:
        """The component an image config's ARN names: a build version ARN, a version ARN, or `x` wildcards
        (the highest matching version), as Image Builder recipes accept them."""
        parts = self._parse(arn)
        if "x" not in parts["version"]:
            return self._with_data(self._directory(arn, parts))
        pattern = parts["version"].split(".")
        versions = [path.name for path in (self.root / parts["region"] / parts["name"]).glob("*")
                    if (path / "component.json").exists()]
        matching = [version for version in versions
                    if all(want in ("x", have) for want, have in zip(pattern, version.split(".")))]
        if not matching:
            raise NotFoundError(self._missing(arn, parts))
        best = max(matching, key=_version_key)
        return self._with_data(self.root / parts["region"] / parts["name"] / best)

    def document(self, arn: str) -> dict:
        """The runner's JSON of the component an ARN names."""
        record = self.resolve(arn)
        return load_document_text(record["data"], record["arn"]).require()

    def _parse(self, arn: str) -> dict:
        match = ARN.match(arn)
        if not match:
            raise BadRequestError(f"'{arn}' is not an Image Builder component ARN such as "
                                  f"{self.arn('us-east-1', 'my-component', '1.0.0')}")
        parts = match.groupdict()
        if parts["account"] != self.account_id:
            owner = "AWS-managed components are not available locally" if parts["account"] == "aws" else (
                f"set the account_id setting to {parts['account']} to use that account's ARNs")
            raise NotFoundError(f"component {arn} belongs to account {parts['account']}, not to {self.account_id} "
                                f"(the account_id setting); {owner}")
        return parts

    def _directory(self, arn: str, parts: dict) -> Path:
        path = self.root / parts["region"] / parts["name"] / parts["version"]
        if not (path / "component.json").exists() or parts["build"] not in (None, BUILD):
            raise NotFoundError(self._missing(arn, parts))
        return path

    def _missing(self, arn: str, parts: dict) -> str:
        return (f"component {arn} does not exist in {parts['region']}; see `paracluster imagebuilder list-components "
                f"--region {parts['region']}`")

    @staticmethod
    def _with_data(path: Path) -> dict:
        record = json.loads((path / "component.json").read_text())
        record["data"] = (path / "document.yaml").read_text()
        return record


# Where the build node keeps downloaded scripts: ParallelCluster uses /tmp/parallelcluster, and a node's /tmp is
# private to it, so nothing downloaded ends up in the image layer.
SCRIPT_FOLDER = "/tmp/parallelcluster/scripts"


def script_document(url: str, folder: str = SCRIPT_FOLDER) -> dict:
    """The runner's JSON for a `Type: script` component of an image config, as ParallelCluster wraps one: download
    the script (s3:// or https://), make it executable and run it in the build phase; any non-zero exit fails it."""
    import hashlib
    import json as as_yaml  # a JSON string is a YAML double-quoted scalar
    import shlex

    if url.startswith("s3://"):
        action = "S3Download"
    elif url.startswith(("https://", "http://")):
        action = "WebDownload"
    else:
        raise BadRequestError(f"script component '{url}' is not an s3:// or https:// URL; ParallelCluster takes those")
    folder = f"{folder}/{hashlib.sha256(url.encode()).hexdigest()[:12]}"
    target = f"{folder}/{url.rstrip('/').rsplit('/', 1)[-1] or 'script'}"
    text = f"""\
name: ScriptComponent
description: {as_yaml.dumps(f"runs {url}")}
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Folder
        action: CreateFolder
        inputs:
          - path: {as_yaml.dumps(folder)}
      - name: Download
        action: {action}
        inputs:
          - source: {as_yaml.dumps(url)}
            destination: {as_yaml.dumps(target)}
      - name: Execute
        action: ExecuteBash
        inputs:
          commands:
            - chmod +x "{{{{ build.Download.inputs[0].destination }}}}"
            - >-
              "{{{{ build.Download.inputs[0].destination }}}}" ||
              {{ code=$?; echo {shlex.quote(url + " exited with code")} "$code" >&2; exit 1; }}
"""
    return load_document_text(text, f"script component {url}").require()


def _check_create(name: str, version: str, region: str, data: str | None, uri: str | None, platform: str,
                  description: str, change_description: str) -> None:
    if not NAME.match(name):
        raise BadRequestError(f"--name '{name}' is invalid; use 3 to 128 letters, digits, hyphens, underscores and "
                              f"spaces (not at either end)")
    if not VERSION.match(version):
        raise BadRequestError(f"--semantic-version '{version}' is invalid; write <major>.<minor>.<patch> such as 1.0.0")
    if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d+$", region):
        raise BadRequestError(f"region '{region}' is not a region name such as us-east-1")
    if (data is None) == (uri is None):
        raise BadRequestError("give the document with exactly one of --data and --uri")
    if data is not None and not 1 <= len(data) <= MAX_DATA:
        raise BadRequestError(f"--data has {len(data)} characters; Image Builder takes 1 to {MAX_DATA} inline, "
                              f"store a larger document in a bucket and pass --uri")
    if platform not in PLATFORMS:
        raise BadRequestError(f"--platform '{platform}' is not supported; ParaCluster builds Linux images "
                              f"(--platform Linux)")
    for flag, text in (("--description", description), ("--change-description", change_description)):
        if len(text) > 1024:
            raise BadRequestError(f"{flag} has {len(text)} characters; at most 1024 are allowed")


# ParallelCluster's UpdateAndReboot component (update_and_reboot.yaml), reduced to what a local build node needs:
# upgrade the packages, then restart so that the next components run on the updated system.
UPDATE_AND_REBOOT = """\
name: UpdateAndReboot
description: Update OS and Reboot
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: UpdateOS
        action: UpdateOS
      - name: RebootAfterUpdate
        action: Reboot
"""


def update_os_document() -> dict:
    """The runner's JSON of the component `Build/UpdateOsPackages/Enabled: true` adds first."""
    return load_document_text(UPDATE_AND_REBOOT, "Build/UpdateOsPackages").require()
