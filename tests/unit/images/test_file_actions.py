"""AWSTOE's file system actions, run by the runner against a temporary directory tree."""

from __future__ import annotations

import os
import pwd
import grp
import stat

import pytest

from docrun import build_steps, steps


def only_step(progress: dict) -> dict:
    (record,) = steps(progress).values()
    return record


def test_create_append_and_read_files_with_encodings_owners_and_modes(run_docs, root):
    progress = run_docs(build_steps("""\
        - name: Create
          action: CreateFile
          inputs:
            - path: deep/folder/plain.txt
              content: "line\\\\n stays literal"
            - path: wide.txt
              content: hé
              encoding: UTF-16
            - path: owned.txt
              owner: nobody
              permissions: 0640
        - name: Append
          action: AppendFile
          inputs:
            - path: deep/folder/plain.txt
              content: " + more"
            - path: deep/folder/plain.txt
        - name: Read
          action: ReadFile
          inputs:
            - path: deep/folder/plain.txt
            - path: wide.txt
              encoding: utf16
              printFileContent: true
    """))
    assert progress["status"] == "success"
    assert (root / "deep/folder/plain.txt").read_text() == "line\\n stays literal + more"
    assert (root / "wide.txt").read_bytes() == "hé".encode("utf-16-le")
    owned = (root / "owned.txt").stat()
    nobody = pwd.getpwnam("nobody")
    assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (nobody.pw_uid, nobody.pw_gid, 0o640)
    read = steps(progress)["build.Read"]
    assert read["outputs"] == {"content": "line\\n stays literal + more\nhé"}
    assert read["stdoutTail"] == "hé"  # printFileContent


@pytest.mark.parametrize("steps_yaml, message", [
    ("""- name: S
  action: CreateFile
  inputs:
    - path: exists.txt
      overwrite: false""", "file 'exists.txt' already exists and overwrite is false"),
    ("""- name: S
  action: AppendFile
  inputs:
    - path: missing.txt""", "file 'missing.txt' does not exist"),
    ("""- name: S
  action: CreateFile
  inputs:
    - path: x.txt
      owner: no-such-user-here""", "user 'no-such-user-here' does not exist"),
    ("""- name: S
  action: CreateFolder
  inputs:
    - path: folder
      overwrite: false""", "folder 'folder' already exists and overwrite is false"),
    ("""- name: S
  action: DeleteFolder
  inputs:
    - path: folder""", "folder 'folder' is not empty; set force: true to delete it with its contents"),
    ("""- name: S
  action: DeleteFile
  inputs:
    - path: folder""", "'folder' is a folder; use DeleteFolder"),
    ("""- name: S
  action: CopyFile
  inputs:
    - source: nothing*.txt
      destination: out/""", "nothing matches 'nothing*.txt'"),
    ("""- name: S
  action: CopyFile
  inputs:
    - source: folder/*.txt
      destination: one.txt""", "several sources match, so destination 'one.txt' must be a folder ending in '/'"),
    ("""- name: S
  action: CopyFile
  inputs:
    - source: fold*/a.txt
      destination: out/""", "'fold*/a.txt' has a wildcard before its last '/'; wildcards are allowed only in the "
                           "last part"),
    ("""- name: S
  action: MoveFolder
  inputs:
    - source: folder
      destination: folder/inner/""", "cannot put folder"),
    ("""- name: S
  action: SetFilePermissions
  inputs:
    - path: folder
      permissions: '0644'""", "file 'folder' does not exist"),
    ("""- name: S
  action: ListFiles
  inputs:
    - path: exists.txt""", "folder 'exists.txt' does not exist"),
    ("""- name: S
  action: CreateSymlink
  inputs:
    - path: link
      target: exists.txt""", "link 'link' already exists and force is false"),
])
def test_file_actions_fail_with_a_reason(run_docs, root, steps_yaml, message):
    (root / "exists.txt").write_text("here")
    (root / "folder").mkdir()
    (root / "folder" / "a.txt").write_text("a")
    (root / "folder" / "b.txt").write_text("b")
    (root / "link").symlink_to(root / "exists.txt")
    record = only_step(run_docs(build_steps(steps_yaml)))
    assert record["status"] == "failed"
    assert record["failureMessage"].startswith(message)
    assert (root / "exists.txt").read_text() == "here"


def test_copy_and_move_files_and_folders(run_docs, root):
    for name in ("a.txt", "b.txt", "c.log"):
        (root / "src" / "sub").mkdir(parents=True, exist_ok=True)
        (root / "src" / name).write_text(name)
    (root / "src" / "sub" / "deep.txt").write_text("deep")
    (root / "old").mkdir()
    (root / "old" / "stale.txt").write_text("stale")
    progress = run_docs(build_steps("""\
        - name: Files
          action: CopyFile
          inputs:
            - source: src/*.txt
              destination: copies/
            - source: src/c.log
              destination: renamed/log.txt
        - name: Folder
          action: CopyFolder
          inputs:
            - source: src
              destination: tree
            - source: src
              destination: into/
            - source: src
              destination: old
        - name: MoveOne
          action: MoveFile
          inputs:
            - source: copies/a.txt
              destination: moved/
        - name: MoveTree
          action: MoveFolder
          inputs:
            - source: into/src
              destination: elsewhere/tree2
    """))
    assert progress["status"] == "success"
    assert sorted(os.listdir(root / "copies")) == ["b.txt"]
    assert (root / "moved" / "a.txt").read_text() == "a.txt"
    assert (root / "renamed" / "log.txt").read_text() == "c.log"
    assert (root / "tree" / "sub" / "deep.txt").read_text() == "deep"
    assert not (root / "into" / "src").exists() and (root / "elsewhere/tree2/sub/deep.txt").read_text() == "deep"
    # overwrite (the default) replaces an existing folder: the result is exactly the source's contents
    assert sorted(os.listdir(root / "old")) == ["a.txt", "b.txt", "c.log", "sub"]


def test_delete_list_and_link(run_docs, root):
    (root / "logs" / "nested").mkdir(parents=True)
    for name in ("one.log", "two.log", "keep.txt", "nested/three.log"):
        (root / "logs" / name).write_text(name)
    (root / "empty").mkdir()
    (root / "full" / "x").mkdir(parents=True)
    progress = run_docs(build_steps("""\
        - name: ListAll
          action: ListFiles
          inputs:
            - path: logs
              recursive: true
              fileNamePattern: "*.log"
        - name: ListTop
          action: ListFiles
          inputs:
            - path: logs
        - name: Delete
          action: DeleteFile
          inputs:
            - path: logs/*.log
            - path: logs/nothing-matches-*
        - name: Folders
          action: DeleteFolder
          inputs:
            - path: empty
            - path: full
              force: true
        - name: Link
          action: CreateSymlink
          inputs:
            - path: links/keep
              target: logs/keep.txt
    """))
    assert progress["status"] == "success"
    records = steps(progress)
    logs = root / "logs"
    assert records["build.ListAll"]["outputs"]["files"] == f"{logs}/one.log,{logs}/two.log,{logs}/nested/three.log"
    assert records["build.ListTop"]["outputs"]["files"] == f"{logs}/keep.txt,{logs}/one.log,{logs}/two.log"
    assert sorted(os.listdir(logs)) == ["keep.txt", "nested"] and (logs / "nested" / "three.log").exists()
    assert not (root / "empty").exists() and not (root / "full").exists()
    assert os.readlink(root / "links" / "keep") == str(logs / "keep.txt")


def test_owners_and_permissions_of_files_and_folders(run_docs, root):
    (root / "tree" / "sub").mkdir(parents=True)
    (root / "tree" / "sub" / "file").write_text("f")
    (root / "flat" / "sub").mkdir(parents=True)
    (root / "single").write_text("s")
    progress = run_docs(build_steps("""\
        - name: FolderMode
          action: SetFolderPermissions
          inputs:
            - path: tree
              permissions: '0750'
            - path: flat
              permissions: 700
              recursive: false
        - name: FileMode
          action: SetFilePermissions
          inputs:
            - path: single
              permissions: '0600'
        - name: FolderOwner
          action: SetFolderOwner
          inputs:
            - path: tree
              owner: nobody
              group: root
        - name: FileOwner
          action: SetFileOwner
          inputs:
            - path: single
              owner: nobody
    """))
    assert progress["status"] == "success"
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    assert [mode(root / path) for path in ("tree", "tree/sub", "tree/sub/file")] == [0o750] * 3
    assert mode(root / "flat") == 0o700 and mode(root / "flat" / "sub") != 0o700
    assert mode(root / "single") == 0o600
    nobody = pwd.getpwnam("nobody")
    for path in ("tree", "tree/sub", "tree/sub/file"):
        owner = (root / path).stat()
        assert (owner.st_uid, owner.st_gid) == (nobody.pw_uid, grp.getgrnam("root").gr_gid)
    assert ((root / "single").stat().st_uid, (root / "single").stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)
