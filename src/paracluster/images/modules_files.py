"""AWSTOE's file system action modules: create, append, copy, move, delete, list, read, link, owners and modes.

Each takes the step's resolved inputs (a list of operations) and its StepContext, and returns its outputs or None.
Semantics follow AWS's action module reference: parent folders are created where it says so, `overwrite` defaults to
true, a `*` wildcard is allowed only after the last `/`, and a destination ending in `/` is a folder that keeps the
source's name. Where the reference is silent we do what `cp`, `mv` and `rm` would. Standard library only.
"""

from __future__ import annotations

import fnmatch
import glob
import grp
import os
import pwd
import shutil

from paracluster.images.execution import ActionFailed, StepContext

_CODECS = {"utf8": "utf-8", "utf-8": "utf-8", "utf16": "utf-16-le", "utf-16": "utf-16-le", "utf16-le": "utf-16-le",
           "utf-16-le": "utf-16-le", "utf16-be": "utf-16-be", "utf-16-be": "utf-16-be", "utf32": "utf-32-le",
           "utf-32": "utf-32-le", "utf32-le": "utf-32-le", "utf-32-le": "utf-32-le", "utf32-be": "utf-32-be",
           "utf-32-be": "utf-32-be"}


def codec(name: str | None) -> str:
    """Python's codec for an AWSTOE encoding name (utf16 and utf32 are little-endian without a BOM)."""
    try:
        return _CODECS[(name or "utf8").lower()]
    except KeyError:
        raise ActionFailed(f"encoding '{name}' is not supported; use utf8, utf16 or utf32 (-LE/-BE)") from None


def mode(text: str) -> int:
    try:
        value = int(str(text), 8)
    except ValueError:
        raise ActionFailed(f"permissions '{text}' is not an octal mode such as 0755") from None
    if not 0 <= value <= 0o7777:
        raise ActionFailed(f"permissions '{text}' is not an octal mode such as 0755")
    return value


def owner_ids(owner: str | None, group: str | None) -> tuple[int, int]:
    """uid and gid for chown (-1 keeps one); without a group, the owner's primary group, as AWSTOE does."""
    uid = gid = -1
    if owner:
        try:
            entry = pwd.getpwnam(owner)
        except KeyError:
            raise ActionFailed(f"user '{owner}' does not exist") from None
        uid, gid = entry.pw_uid, entry.pw_gid
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise ActionFailed(f"group '{group}' does not exist") from None
    return uid, gid


def _apply_properties(path: str, item: dict) -> None:
    if item.get("owner") or item.get("group"):
        os.chown(path, *owner_ids(item.get("owner"), item.get("group")))
    if item.get("permissions"):
        os.chmod(path, mode(item["permissions"]))


def _sources(ctx: StepContext, source: str, want_dir: bool) -> list[str]:
    """The paths a source names: itself, or what its wildcard (after the last '/') matches."""
    path = ctx.path(source)
    folder, name = os.path.split(path)
    if glob.has_magic(folder):
        raise ActionFailed(f"'{source}' has a wildcard before its last '/'; wildcards are allowed only in the last "
                           f"part")
    if not glob.has_magic(name):
        exists = os.path.isdir(path) if want_dir else os.path.isfile(path)
        if not exists:
            kind = "folder" if want_dir else "file"
            raise ActionFailed(f"source {kind} '{source}' does not exist")
        return [path]
    matches = sorted(match for match in glob.glob(os.path.join(glob.escape(folder), name))
                     if (os.path.isdir(match) if want_dir else os.path.isfile(match)))
    if not matches:
        raise ActionFailed(f"nothing matches '{source}'")
    return matches


def _targets(ctx: StepContext, sources: list[str], destination: str) -> list[tuple[str, str]]:
    """(source, target) pairs: a destination ending in '/' is a folder, and the source keeps its name there."""
    target = ctx.path(destination)
    into_folder = destination.endswith("/")
    if len(sources) > 1 and not into_folder:
        raise ActionFailed(f"several sources match, so destination '{destination}' must be a folder ending in '/'")
    if into_folder:
        return [(source, os.path.join(target, os.path.basename(source))) for source in sources]
    return [(sources[0], target)]


def create_file(items: list[dict], ctx: StepContext) -> None:
    for item in items:
        ctx.check_time()
        path = ctx.path(item["path"])
        if os.path.isdir(path):
            raise ActionFailed(f"'{item['path']}' is a folder")
        if os.path.exists(path) and not item.get("overwrite", True):
            raise ActionFailed(f"file '{item['path']}' already exists and overwrite is false")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding=codec(item.get("encoding")), newline="") as stream:
            stream.write(item.get("content", ""))
        _apply_properties(path, item)


def append_file(items: list[dict], ctx: StepContext) -> None:
    for item in items:
        ctx.check_time()
        path = ctx.path(item["path"])
        if not os.path.isfile(path):
            raise ActionFailed(f"file '{item['path']}' does not exist")
        with open(path, "a", encoding=codec(item.get("encoding")), newline="") as stream:
            stream.write(item.get("content", ""))


def create_folder(items: list[dict], ctx: StepContext) -> None:
    for item in items:
        ctx.check_time()
        path = ctx.path(item["path"])
        if os.path.exists(path):
            if not os.path.isdir(path):
                raise ActionFailed(f"'{item['path']}' exists and is not a folder")
            # An existing folder is kept with its contents; overwrite only decides whether that is an error.
            if not item.get("overwrite", True):
                raise ActionFailed(f"folder '{item['path']}' already exists and overwrite is false")
        os.makedirs(path, exist_ok=True)
        _apply_properties(path, item)


def create_symlink(items: list[dict], ctx: StepContext) -> None:
    for item in items:
        path, target = ctx.path(item["path"]), ctx.path(item["target"])
        if not os.path.exists(target):
            raise ActionFailed(f"link target '{item['target']}' does not exist")
        if os.path.lexists(path):
            if not os.path.islink(path):
                raise ActionFailed(f"'{item['path']}' exists and is not a symbolic link")
            if not item.get("force", False):
                raise ActionFailed(f"link '{item['path']}' already exists and force is false")
            os.unlink(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)


def _transfer(items: list[dict], ctx: StepContext, folder: bool, move: bool) -> None:
    """CopyFile, MoveFile, CopyFolder and MoveFolder."""
    for item in items:
        for source, target in _targets(ctx, _sources(ctx, item["source"], want_dir=folder), item["destination"]):
            ctx.check_time()
            _make_room(source, target, folder, item.get("overwrite", True))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if move:
                shutil.move(source, target)
            elif folder:
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy(source, target)


def _make_room(source: str, target: str, folder: bool, overwrite: bool) -> None:
    if folder and os.path.realpath(target).startswith(os.path.realpath(source) + os.sep):
        raise ActionFailed(f"cannot put folder '{source}' inside itself ('{target}')")
    if not folder and os.path.isdir(target):
        raise ActionFailed(f"'{target}' is a folder; end the destination with '/' to put the file into it")
    if not os.path.lexists(target):
        return
    if not overwrite:
        raise ActionFailed(f"{'folder' if folder else 'file'} '{target}' already exists and overwrite is false")
    if folder:
        # overwrite replaces the existing folder, so the result is exactly the source's contents
        shutil.rmtree(target) if os.path.isdir(target) and not os.path.islink(target) else os.unlink(target)


def copy_file(items: list[dict], ctx: StepContext) -> None:
    _transfer(items, ctx, folder=False, move=False)


def move_file(items: list[dict], ctx: StepContext) -> None:
    _transfer(items, ctx, folder=False, move=True)


def copy_folder(items: list[dict], ctx: StepContext) -> None:
    _transfer(items, ctx, folder=True, move=False)


def move_folder(items: list[dict], ctx: StepContext) -> None:
    _transfer(items, ctx, folder=True, move=True)


def delete_file(items: list[dict], ctx: StepContext) -> None:
    for item in items:
        path = ctx.path(item["path"])
        if glob.has_magic(os.path.basename(path)):
            folder, pattern = os.path.split(path)
            for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                candidate = os.path.join(folder, name)
                if fnmatch.fnmatchcase(name, pattern) and not os.path.isdir(candidate):
                    os.unlink(candidate)
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            raise ActionFailed(f"'{item['path']}' is a folder; use DeleteFolder")
        if not os.path.lexists(path):
            raise ActionFailed(f"file '{item['path']}' does not exist")
        os.unlink(path)


def delete_folder(items: list[dict], ctx: StepContext) -> None:
    for item in items:
        path = ctx.path(item["path"])
        if not os.path.isdir(path):
            raise ActionFailed(f"folder '{item['path']}' does not exist")
        if os.listdir(path) and not item.get("force", False):
            raise ActionFailed(f"folder '{item['path']}' is not empty; set force: true to delete it with its contents")
        shutil.rmtree(path)


def list_files(items: list[dict], ctx: StepContext) -> dict:
    found = []
    for item in items:
        path = ctx.path(item["path"])
        if not os.path.isdir(path):
            raise ActionFailed(f"folder '{item['path']}' does not exist")
        pattern = item.get("fileNamePattern") or "*"
        if item.get("recursive", False):
            walked = ((root, names) for root, _, names in os.walk(path))
        else:
            walked = [(path, [name for name in os.listdir(path) if os.path.isfile(os.path.join(path, name))])]
        for root, names in walked:
            found.extend(os.path.join(root, name) for name in sorted(names) if fnmatch.fnmatchcase(name, pattern))
    return {"files": ",".join(found)}


def read_file(items: list[dict], ctx: StepContext) -> dict:
    contents = []
    for item in items:
        path = ctx.path(item["path"])
        try:
            with open(path, encoding=codec(item.get("encoding")), newline="") as stream:
                content = stream.read()
        except FileNotFoundError:
            raise ActionFailed(f"file '{item['path']}' does not exist") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ActionFailed(f"failed to read '{item['path']}': {err}") from None
        if item.get("printFileContent", False):
            ctx.log(content)
        contents.append(content)
    return {"content": "\n".join(contents)}


def _each_path(path: str, recursive: bool):
    yield path
    if recursive:
        for root, folders, files in os.walk(path):
            for name in folders + files:
                yield os.path.join(root, name)


def _change(items: list[dict], ctx: StepContext, folder: bool, change) -> None:
    """Apply `change(path, item)` to each file, or to each folder and (unless recursive is false) its contents."""
    for item in items:
        path = ctx.path(item["path"])
        if not (os.path.isdir(path) if folder else os.path.isfile(path)):
            raise ActionFailed(f"{'folder' if folder else 'file'} '{item['path']}' does not exist")
        for each in _each_path(path, folder and item.get("recursive", True)):
            change(each, item)


def _owner(path: str, item: dict) -> None:
    os.lchown(path, *owner_ids(item["owner"], item.get("group")))


def _permissions(path: str, item: dict) -> None:
    if not os.path.islink(path):  # a link's own mode means nothing on Linux; its target is changed where it is
        os.chmod(path, mode(item["permissions"]))


def set_file_owner(items: list[dict], ctx: StepContext) -> None:
    _change(items, ctx, False, _owner)


def set_folder_owner(items: list[dict], ctx: StepContext) -> None:
    _change(items, ctx, True, _owner)


def set_file_permissions(items: list[dict], ctx: StepContext) -> None:
    _change(items, ctx, False, _permissions)


def set_folder_permissions(items: list[dict], ctx: StepContext) -> None:
    _change(items, ctx, True, _permissions)


MODULES = {
    "CreateFile": create_file, "AppendFile": append_file, "CreateFolder": create_folder,
    "CreateSymlink": create_symlink, "CopyFile": copy_file, "MoveFile": move_file, "CopyFolder": copy_folder,
    "MoveFolder": move_folder, "DeleteFile": delete_file, "DeleteFolder": delete_folder, "ListFiles": list_files,
    "ReadFile": read_file, "SetFileOwner": set_file_owner, "SetFolderOwner": set_folder_owner,
    "SetFilePermissions": set_file_permissions, "SetFolderPermissions": set_folder_permissions,
}
