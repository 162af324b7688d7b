"""The inputs of each AWSTOE action module as key trees, and the outputs each one gives to chaining.

Facts from AWS's AWSTOE action module reference: which actions take a mapping (ExecuteBash) and which a list of
mappings (CreateFile), their keys, types and defaults. String inputs are read as Go reads them (a YAML number there is
its text), since AWSTOE is a Go program. The runner applies the defaults; these trees only check.
"""

from __future__ import annotations

import re

from paracluster.config.schema.types import Bool, Int, ListOf, Scalar, Section

HINT = "remove it (see AWS's AWSTOE action module reference for the inputs of this action)"
ENCODINGS = ("utf8", "utf-8", "utf16", "utf-16", "utf16-le", "utf-16-le", "utf16-be", "utf-16-be", "utf32", "utf-32",
             "utf32-le", "utf-32-le", "utf32-be", "utf-32-be")
_PERMISSIONS = re.compile(r"^[0-7]{3,4}$")


def Text(**kwargs: object) -> Scalar:  # noqa: N802 - reads as a type in the key tree
    """A string as Go reads it: YAML numbers and booleans there keep their text."""
    return Scalar("text", **kwargs)


def _encoding(value: str) -> str | None:
    if "{{" in value or value.lower() in ENCODINGS:
        return None
    return (f"'{value}' is not a known encoding; use one of: utf8, utf16, utf16-BE, utf32, utf32-BE (and their dashed "
            f"forms)")


def _permissions(value: str) -> str | None:
    if "{{" in value or _PERMISSIONS.match(value):
        return None
    return f"'{value}' is not an octal mode; write three or four octal digits such as '0755' (quoted)"


def _s3_url(value: str) -> str | None:
    if "{{" in value or value.startswith("s3://"):
        return None
    return f"'{value}' is not an s3:// URL; write s3://BUCKET/KEY"


def _web_url(value: str) -> str | None:
    if "{{" in value or value.startswith(("https://", "http://")):
        return None
    return f"'{value}' is not an http(s):// URL"


def _section(action: str, fields: dict, **kwargs: object) -> Section:
    return Section(f"{action} inputs", fields, unknown_hint=HINT, **kwargs)


def _items(action: str, fields: dict) -> ListOf:
    """Inputs written as a list of mappings, one operation each."""
    return ListOf(_section(action, fields), min_len=1,
                  length_help=f"is empty; {action} needs at least one item such as '- path: ...'")


_PATH = Text(required=True)
_OWNERSHIP = {"owner": Text(), "group": Text(), "permissions": Text(checks=[_permissions])}
_TRANSFER = {"source": Text(required=True), "destination": Text(required=True), "overwrite": Bool()}

# action -> the spec of its `inputs`
INPUTS: dict[str, Section | ListOf] = {
    "ExecuteBash": _section("ExecuteBash", {"commands": ListOf(Text(), required=True, min_len=1)}),
    "ExecuteBinary": _section("ExecuteBinary", {"path": _PATH, "arguments": ListOf(Text())}),
    "CreateFile": _items("CreateFile", {"path": _PATH, "content": Text(), "encoding": Text(checks=[_encoding]),
                                        **_OWNERSHIP, "overwrite": Bool()}),
    "AppendFile": _items("AppendFile", {"path": _PATH, "content": Text(), "encoding": Text(checks=[_encoding])}),
    "CreateFolder": _items("CreateFolder", {"path": _PATH, **_OWNERSHIP, "overwrite": Bool()}),
    "CreateSymlink": _items("CreateSymlink", {"path": _PATH, "target": Text(required=True), "force": Bool()}),
    "CopyFile": _items("CopyFile", _TRANSFER),
    "CopyFolder": _items("CopyFolder", _TRANSFER),
    "MoveFile": _items("MoveFile", _TRANSFER),
    "MoveFolder": _items("MoveFolder", _TRANSFER),
    "DeleteFile": _items("DeleteFile", {"path": _PATH}),
    "DeleteFolder": _items("DeleteFolder", {"path": _PATH, "force": Bool()}),
    "ListFiles": _items("ListFiles", {"path": _PATH, "fileNamePattern": Text(), "recursive": Bool()}),
    "ReadFile": _items("ReadFile", {"path": _PATH, "encoding": Text(checks=[_encoding]),
                                    "printFileContent": Bool()}),
    "SetFileOwner": _items("SetFileOwner", {"path": _PATH, "owner": Text(required=True), "group": Text()}),
    "SetFolderOwner": _items("SetFolderOwner", {"path": _PATH, "owner": Text(required=True), "group": Text(),
                                                "recursive": Bool()}),
    "SetFilePermissions": _items("SetFilePermissions", {
        "path": _PATH, "permissions": Text(required=True, checks=[_permissions])}),
    "SetFolderPermissions": _items("SetFolderPermissions", {
        "path": _PATH, "permissions": Text(required=True, checks=[_permissions]), "recursive": Bool()}),
    "S3Download": _items("S3Download", {"source": Text(required=True, checks=[_s3_url]),
                                        "destination": Text(required=True), "expectedBucketOwner": Text(),
                                        "overwrite": Bool()}),
    "S3Upload": _items("S3Upload", {"source": Text(required=True),
                                    "destination": Text(required=True, checks=[_s3_url]),
                                    "recurse": Bool(), "expectedBucketOwner": Text()}),
    "WebDownload": _items("WebDownload", {
        "source": Text(required=True, checks=[_web_url]), "destination": Text(required=True), "overwrite": Bool(),
        "checksum": Text(), "algorithm": Text(choices=("MD5", "SHA1", "SHA256", "SHA512")),
        "ignoreCertificateErrors": Bool()}),
    "Reboot": _section("Reboot", {"delaySeconds": Int(minimum=0)}),
    "UpdateOS": _section("UpdateOS", {"include": ListOf(Text()), "exclude": ListOf(Text())}),
    # Assert's inputs are one comparison or logical expression: checked by document.check_expression.
}
ACTIONS = (*INPUTS, "Assert")
# Actions whose `inputs` may be left out (everything they take is optional).
OPTIONAL_INPUTS = ("Reboot", "UpdateOS")

# What each action gives to `{{ phase.step.outputs.NAME }}`.
OUTPUTS = {"ExecuteBash": ("stdout",), "ExecuteBinary": ("stdout",), "ListFiles": ("files",),
           "ReadFile": ("content",), "WebDownload": ("destination",)}

# Real AWSTOE actions this runner does not offer, with what to say about each.
NOT_OFFERED = {
    "ExecutePowerShell": "is a Windows action; ParaCluster builds Linux images, use ExecuteBash",
    "InstallMSI": "is a Windows action; ParaCluster builds Linux images",
    "UninstallMSI": "is a Windows action; ParaCluster builds Linux images",
    "SetRegistry": "is a Windows action; ParaCluster builds Linux images",
    "ExecuteDocument": "(nested documents) is not supported by ParaCluster yet; list the documents as separate "
                       "components",
    "SetFileEncoding": "is not supported by ParaCluster yet; write the file with CreateFile's encoding",
}
