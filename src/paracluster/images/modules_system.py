"""AWSTOE's execution, transfer and system action modules: ExecuteBash, ExecuteBinary, S3Download, S3Upload,
WebDownload, Reboot, UpdateOS and Assert.

S3 and the web are reached through the run's transfer object, reboots and OS updates through the run's hooks, so the
same code serves every place the runner runs. Exit code 194 from a script or binary asks for a restart after which
the same step runs again, as AWSTOE does on Linux. Standard library only.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import time
import urllib.parse

from paracluster.images import conditions
from paracluster.images.execution import REBOOT_EXIT_CODE, ActionFailed, RebootRequested, StepContext
from paracluster.images.transfer import TransferError

WEB_ATTEMPTS = 5  # AWSTOE gives each download five tries of its own, apart from the step's maxAttempts
WEB_RETRY_SECONDS = 0.5


def _exit_status(code: int, what: str) -> None:
    if code == REBOOT_EXIT_CODE:
        raise RebootRequested(0, rerun=True)
    if code != 0:
        raise ActionFailed(f"{what} exited with code {code}")


def execute_bash(inputs: dict, ctx: StepContext) -> dict:
    script = ctx.log_dir / "input.sh"
    script.write_text("\n".join(inputs["commands"]) + "\n")
    result = ctx.run(["/bin/bash", str(script)])
    _exit_status(result.exit_code, "the commands")
    return {"stdout": result.stdout.rstrip("\r\n")}


def execute_binary(inputs: dict, ctx: StepContext) -> dict:
    path = ctx.path(inputs["path"]) if "/" in inputs["path"] else (shutil.which(inputs["path"]) or inputs["path"])
    result = ctx.run([path, *inputs.get("arguments", [])])
    _exit_status(result.exit_code, inputs["path"])
    return {"stdout": result.stdout.rstrip("\r\n")}


def parse_s3(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise ActionFailed(f"'{url}' is not an s3:// URL")
    bucket, _, key = url[len("s3://"):].partition("/")
    if not bucket:
        raise ActionFailed(f"'{url}' names no bucket")
    return bucket, key


def _transfer(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except TransferError as err:
        raise ActionFailed(str(err)) from None


def s3_download(items: list[dict], ctx: StepContext) -> None:
    for item in items:
        bucket, key = parse_s3(item["source"])
        owner, overwrite = item.get("expectedBucketOwner"), item.get("overwrite", True)
        destination = ctx.path(item["destination"])
        if key == "*" or key.endswith("/*"):
            # A key prefix: every object under it, keeping the key's folders below the prefix.
            prefix = key[:-1]
            if not os.path.isdir(destination):
                raise ActionFailed(f"destination folder '{item['destination']}' does not exist; create it first")
            try:
                keys = ctx.transfer.list_objects(bucket, prefix, expected_owner=owner)
            except TransferError as err:
                raise ActionFailed(str(err)) from None
            pairs = [(name, os.path.join(destination, name[len(prefix):])) for name in keys
                     if name[len(prefix):] and not name.endswith("/")]
        else:
            into = item["destination"].endswith("/") or os.path.isdir(destination)
            pairs = [(key, os.path.join(destination, os.path.basename(key)) if into else destination)]
            if not os.path.isdir(os.path.dirname(pairs[0][1])):
                raise ActionFailed(f"the folder of destination '{item['destination']}' does not exist; create it "
                                   f"first")
        for name, target in pairs:
            ctx.check_time()
            if os.path.exists(target) and not overwrite:
                raise ActionFailed(f"file '{target}' already exists and overwrite is false; cannot download "
                                   f"s3://{bucket}/{name}")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            _transfer(ctx.transfer.download_object, bucket, name, target, expected_owner=owner)


def s3_upload(items: list[dict], ctx: StepContext) -> None:
    for item in items:
        bucket, key = parse_s3(item["destination"])
        owner, recurse = item.get("expectedBucketOwner"), item.get("recurse", False)
        source = ctx.path(item["source"])
        folder, name = os.path.split(source)
        prefix = key if not key or key.endswith("/") else key + "/"
        uploads = []
        if glob.has_magic(name):
            for match in sorted(glob.glob(os.path.join(glob.escape(folder), name))):
                if os.path.isfile(match):
                    uploads.append((match, prefix + os.path.basename(match)))
                elif os.path.isdir(match) and recurse:
                    uploads.extend(_tree(match, prefix + os.path.basename(match) + "/"))
        elif os.path.isdir(source):
            if not recurse:
                raise ActionFailed(f"'{item['source']}' is a folder; set recurse: true to upload its contents")
            uploads.extend(_tree(source, prefix))
        elif os.path.isfile(source):
            uploads.append((source, prefix + name if not key or key.endswith("/") else key))
        else:
            raise ActionFailed(f"source '{item['source']}' does not exist")
        for path, object_key in uploads:
            ctx.check_time()
            _transfer(ctx.transfer.upload_object, path, bucket, object_key, expected_owner=owner)


def _tree(folder: str, prefix: str) -> list[tuple[str, str]]:
    found = []
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            path = os.path.join(root, name)
            found.append((path, prefix + os.path.relpath(path, folder).replace(os.sep, "/")))
    return found


def _digest(path: str, algorithm: str) -> str:
    digest = hashlib.new(algorithm.lower())
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def web_download(items: list[dict], ctx: StepContext) -> dict:
    written = []
    for item in items:
        url, destination = item["source"], item["destination"]
        target = ctx.path(destination)
        if destination.endswith("/"):
            name = os.path.basename(urllib.parse.urlsplit(url).path)
            if not name:
                raise ActionFailed(f"{url} has no file name; give destination as a file path")
            target = os.path.join(target, name)
        checksum, algorithm = item.get("checksum"), item.get("algorithm")
        verify = bool(checksum and algorithm)
        if os.path.exists(target):
            if not item.get("overwrite", True):
                raise ActionFailed(f"file '{target}' already exists and overwrite is false")
            if verify and _digest(target, algorithm) == checksum.lower():
                written.append(target)  # what is there already has the expected checksum
                continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = target + ".part"
        _download(ctx, url, partial, not item.get("ignoreCertificateErrors", False))
        if verify and _digest(partial, algorithm) != checksum.lower():
            os.unlink(partial)
            raise ActionFailed(f"{url} does not have the expected {algorithm} checksum {checksum}")
        os.replace(partial, target)
        written.append(target)
    return {"destination": "\n".join(written)}


def _download(ctx: StepContext, url: str, path: str, verify_tls: bool) -> None:
    for attempt in range(WEB_ATTEMPTS):
        ctx.check_time()
        try:
            ctx.transfer.download_url(url, path, verify_tls=verify_tls)
            return
        except TransferError as err:
            if err.permanent or attempt == WEB_ATTEMPTS - 1:
                raise ActionFailed(f"failed to download {url}: {err}") from None
            ctx.log(f"download of {url} failed ({err}); trying again")
            time.sleep(WEB_RETRY_SECONDS * 2 ** attempt)


def reboot(inputs: dict, ctx: StepContext) -> None:
    raise RebootRequested(inputs.get("delaySeconds", 0), rerun=False)


def update_os(inputs: dict, ctx: StepContext) -> None:
    ctx.update_os(inputs.get("include", []), inputs.get("exclude", []), ctx)


def assert_(inputs: dict, ctx: StepContext) -> None:
    try:
        holds = conditions.evaluate(inputs, ctx.path)
    except re.error as err:
        raise ActionFailed(f"the pattern of patternMatches is not a valid regular expression: {err}") from None
    if not holds:
        raise ActionFailed(f"assertion is false: {conditions.describe(inputs)}")


def apt_update_os(include: list[str], exclude: list[str], ctx: StepContext, mirror: str | None = None) -> None:
    """UpdateOS on Debian and Ubuntu: upgrade every package (or only `include`), never those in `exclude`.

    With `mirror` (a directory with the `lists/` and `archives/` that the host filled for a node with no route out),
    the package lists are taken from there instead of `apt-get update`, the packages downloaded there are installed,
    and packages that can be had neither from there nor from a file: source are held back.
    """
    if shutil.which("apt-get") is None:
        raise ActionFailed("UpdateOS needs apt-get (Debian or Ubuntu), which this node does not have")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> None:
        result = ctx.run(["apt-get", "-y", "-q", "-o", "Dpkg::Options::=--force-confdef",
                          "-o", "Dpkg::Options::=--force-confold", *args], env=env)
        if result.exit_code != 0:
            raise ActionFailed(f"apt-get {args[0]} exited with code {result.exit_code}")

    offline: list[str] = []
    if mirror:
        _take_lists(os.path.join(mirror, "lists"), ctx)
        # Packages of file: sources are read where they are; what cannot be had is held back, not an error.
        offline = ["-o", f"Dir::Cache::archives={mirror}/archives", "--ignore-missing"]
    else:
        apt("update")
    if include:
        wanted = [name for name in include if name not in exclude]
        if wanted:
            apt("install", "--only-upgrade", *offline, *wanted)
        return
    held = set(ctx.run(["apt-mark", "showhold"], env=env).stdout.split())
    hold = [name for name in exclude if name not in held]  # hold only what we release afterwards
    if hold and ctx.run(["apt-mark", "hold", *hold], env=env).exit_code != 0:
        raise ActionFailed(f"apt-mark could not hold {', '.join(hold)}; are they installed?")
    try:
        apt("upgrade", "--with-new-pkgs", *offline)
    finally:
        if hold:
            ctx.run(["apt-mark", "unhold", *hold], env=env)


LISTS = "/var/lib/apt/lists"


def _take_lists(source: str, ctx: StepContext) -> None:
    """Replace the node's package lists with the mirror's (what `apt-get update` would have fetched)."""
    if not os.path.isdir(source):
        raise ActionFailed(f"the package mirror {source} has no lists; the host did not prepare it")
    for name in os.listdir(LISTS):
        path = os.path.join(LISTS, name)
        if os.path.isfile(path) and name != "lock":
            os.remove(path)
    names = [name for name in os.listdir(source) if os.path.isfile(os.path.join(source, name)) and name != "lock"]
    for name in names:
        shutil.copyfile(os.path.join(source, name), os.path.join(LISTS, name))
    ctx.log(f"UpdateOS: took {len(names)} package list files from the host's mirror {source}")


MODULES = {"ExecuteBash": execute_bash, "ExecuteBinary": execute_binary, "S3Download": s3_download,
           "S3Upload": s3_upload, "WebDownload": web_download, "Reboot": reboot, "UpdateOS": update_os,
           "Assert": assert_}
