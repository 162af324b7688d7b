"""S3 and web transfers through a directory-backed transfer, UpdateOS through its hook, ExecuteBinary and Assert."""

from __future__ import annotations

import hashlib

import pytest

from docrun import build_steps, steps
from paracluster.images import conditions, modules_system
from paracluster.images.execution import ActionFailed, CommandResult
from paracluster.images.transfer import DirectoryTransfer, TransferError


@pytest.fixture
def transfer(tmp_path):
    buckets, web = tmp_path / "buckets", tmp_path / "web"
    (buckets / "tools" / "pkg" / "lib").mkdir(parents=True)
    (buckets / "tools" / "pkg" / "bin.sh").write_text("#!/bin/sh\necho tool\n")
    (buckets / "tools" / "pkg" / "lib" / "a.so").write_text("lib")
    (buckets / "tools" / "single.txt").write_text("single")
    (buckets / "uploads").mkdir()
    (web / "downloads.example.com" / "files").mkdir(parents=True)
    (web / "downloads.example.com" / "files" / "tool.tgz").write_bytes(b"archive")
    return DirectoryTransfer(str(buckets), str(web), account_id="111122223333")


def test_s3_download_single_objects_and_key_prefixes(run_docs, root, transfer):
    (root / "dest").mkdir()
    progress = run_docs(build_steps("""\
        - name: Get
          action: S3Download
          inputs:
            - source: s3://tools/single.txt
              destination: dest/renamed.txt
            - source: s3://tools/single.txt
              destination: dest/
              expectedBucketOwner: "111122223333"
            - source: s3://tools/pkg/*
              destination: dest
    """), transfer=transfer)
    assert progress["status"] == "success"
    assert (root / "dest" / "renamed.txt").read_text() == "single"
    assert (root / "dest" / "single.txt").read_text() == "single"
    assert (root / "dest" / "bin.sh").read_text().startswith("#!") and (root / "dest/lib/a.so").read_text() == "lib"


@pytest.mark.parametrize("item, message", [
    ("{source: 's3://tools/missing.txt', destination: 'x.txt'}", "object s3://tools/missing.txt does not exist"),
    ("{source: 's3://nobucket/a', destination: 'x.txt'}", "bucket 'nobucket' does not exist"),
    ("{source: 's3://tools/single.txt', destination: 'nofolder/x.txt'}",
     "the folder of destination 'nofolder/x.txt' does not exist; create it first"),
    ("{source: 's3://tools/pkg/*', destination: 'nofolder'}",
     "destination folder 'nofolder' does not exist; create it first"),
    ("{source: 's3://tools/single.txt', destination: 'there.txt', overwrite: false}",
     "file '{root}/there.txt' already exists and overwrite is false; cannot download s3://tools/single.txt"),
    ("{source: 's3://tools/single.txt', destination: 'x.txt', expectedBucketOwner: '444455556666'}",
     "bucket 'tools' is owned by 111122223333, not by expectedBucketOwner 444455556666"),
])
def test_s3_download_failures(run_docs, root, transfer, item, message):
    (root / "there.txt").write_text("mine")
    (record,) = steps(run_docs(build_steps(f"""\
        - name: Get
          action: S3Download
          inputs: [{item}]
    """), transfer=transfer)).values()
    assert record["status"] == "failed" and record["failureMessage"] == message.format(root=root)
    assert (root / "there.txt").read_text() == "mine"


def test_s3_upload_files_wildcards_and_folders(run_docs, root, transfer, tmp_path):
    (root / "out" / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "sub/c.txt"):
        (root / "out" / name).write_text(name)
    progress = run_docs(build_steps("""\
        - name: Put
          action: S3Upload
          inputs:
            - source: out/a.txt
              destination: s3://uploads/exact/name.txt
            - source: out/*
              destination: s3://uploads/flat/
            - source: out/*
              destination: s3://uploads/deep/
              recurse: true
            - source: out
              destination: s3://uploads/tree
              recurse: "true"
    """), transfer=transfer)
    assert progress["status"] == "success"
    assert transfer.list_objects("uploads", "") == [
        "deep/a.txt", "deep/b.txt", "deep/sub/c.txt", "exact/name.txt", "flat/a.txt", "flat/b.txt",
        "tree/a.txt", "tree/b.txt", "tree/sub/c.txt"]
    (record,) = steps(run_docs(build_steps("""\
        - name: Put
          action: S3Upload
          inputs:
            - source: out
              destination: s3://uploads/again/
    """), work="again", transfer=transfer)).values()
    assert record["failureMessage"] == "'out' is a folder; set recurse: true to upload its contents"


def test_web_download_with_checksums_and_folders(run_docs, root, transfer):
    good = hashlib.sha256(b"archive").hexdigest()
    progress = run_docs(build_steps(f"""\
        - name: Fetch
          action: WebDownload
          inputs:
            - source: https://downloads.example.com/files/tool.tgz
              destination: downloads/
              checksum: {good}
              algorithm: SHA256
            - source: https://downloads.example.com/files/tool.tgz
              destination: other/name.tgz
        - name: Use
          action: ExecuteBash
          inputs:
            commands: ['cat "{{{{ build.Fetch.outputs.destination }}}}" | wc -l']
    """), transfer=transfer)
    assert progress["status"] == "success"
    records = steps(progress)
    assert records["build.Fetch"]["outputs"] == {
        "destination": f"{root}/downloads/tool.tgz\n{root}/other/name.tgz"}
    assert (root / "other" / "name.tgz").read_bytes() == b"archive"
    (record,) = steps(run_docs(build_steps("""\
        - name: Fetch
          action: WebDownload
          inputs:
            - source: https://downloads.example.com/files/tool.tgz
              destination: bad.tgz
              checksum: 0123
              algorithm: MD5
    """), work="bad", transfer=transfer)).values()
    assert record["failureMessage"] == ("https://downloads.example.com/files/tool.tgz does not have the expected MD5 "
                                        "checksum 0123")
    assert not (root / "bad.tgz").exists() and not (root / "bad.tgz.part").exists()


class Flaky(DirectoryTransfer):
    """Fails the first downloads with a passing error, like a dropped connection."""

    def __init__(self, base: DirectoryTransfer, failures: int):
        super().__init__(base.buckets_root, base.web_root, base.account_id)
        self.failures = failures

    def download_url(self, url, path, verify_tls=True):
        if self.failures:
            self.failures -= 1
            raise TransferError("connection reset", permanent=False)
        super().download_url(url, path, verify_tls)


def test_web_download_tries_five_times_on_passing_errors(run_docs, root, transfer, monkeypatch):
    monkeypatch.setattr(modules_system, "WEB_RETRY_SECONDS", 0)
    document = build_steps("""\
        - name: Fetch
          action: WebDownload
          inputs:
            - source: https://downloads.example.com/files/tool.tgz
              destination: tool.tgz
    """)
    assert run_docs(document, transfer=Flaky(transfer, 4))["status"] == "success"
    (record,) = steps(run_docs(document, work="again", transfer=Flaky(transfer, 5))).values()
    assert record["failureMessage"] == ("failed to download https://downloads.example.com/files/tool.tgz: "
                                        "connection reset")
    assert record["stdoutTail"].count("trying again") == 4
    (missing,) = steps(run_docs(document.replace("tool.tgz\n", "gone.tgz\n", 1), work="404",
                                transfer=transfer)).values()
    assert missing["failureMessage"].endswith("answered 404 Not Found")


def test_a_run_without_transfer_says_so(run_docs):
    (record,) = steps(run_docs(build_steps("""\
        - name: Get
          action: S3Download
          inputs:
            - source: s3://tools/single.txt
              destination: x
    """))).values()
    assert record["failureMessage"] == "this run has no S3 or web access (no transfer was configured for it)"


def test_update_os_goes_through_its_hook(run_docs):
    calls = []

    def update_os(include, exclude, ctx):
        calls.append((include, exclude))
        ctx.log("upgraded")

    progress = run_docs(build_steps("""\
        - name: All
          action: UpdateOS
        - name: Some
          action: UpdateOS
          inputs:
            include: [bash, coreutils]
            exclude: [coreutils]
    """), update_os=update_os)
    assert progress["status"] == "success" and calls == [([], []), (["bash", "coreutils"], ["coreutils"])]
    assert steps(progress)["build.All"]["stdoutTail"] == "upgraded"


class RecordingContext:
    """A step context that records commands instead of running them (apt must not touch the host)."""

    def __init__(self, held: str = "", failing: str | None = None):
        self.commands, self.held, self.failing = [], held, failing

    def run(self, argv, env=None):
        self.commands.append(" ".join(argv))
        assert env["DEBIAN_FRONTEND"] == "noninteractive"
        stdout = self.held if argv[:2] == ["apt-mark", "showhold"] else ""
        return CommandResult(1 if self.failing and self.failing in argv else 0, stdout, "")


APT = "apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"


def test_apt_update_os_upgrades_everything_but_the_excluded(monkeypatch):
    monkeypatch.setattr(modules_system.shutil, "which", lambda name: f"/usr/bin/{name}")
    ctx = RecordingContext(held="already-held\n")
    modules_system.apt_update_os([], ["linux-image-amd64", "already-held"], ctx)
    assert ctx.commands == [f"{APT} update", "apt-mark showhold", "apt-mark hold linux-image-amd64",
                            f"{APT} upgrade --with-new-pkgs", "apt-mark unhold linux-image-amd64"]
    ctx = RecordingContext()
    modules_system.apt_update_os(["bash", "sudo"], ["sudo"], ctx)
    assert ctx.commands == [f"{APT} update", f"{APT} install --only-upgrade bash"]
    ctx = RecordingContext(failing="upgrade")
    with pytest.raises(ActionFailed, match="apt-get upgrade exited with code 1"):
        modules_system.apt_update_os([], ["vim"], ctx)
    assert ctx.commands[-1] == "apt-mark unhold vim"  # released even when the upgrade fails


def test_apt_update_os_needs_apt(monkeypatch):
    monkeypatch.setattr(modules_system.shutil, "which", lambda name: None)
    with pytest.raises(ActionFailed, match="UpdateOS needs apt-get"):
        modules_system.apt_update_os([], [], RecordingContext())


def test_execute_binary_with_arguments_and_exit_codes(run_docs, root):
    progress = run_docs(build_steps("""\
        - name: Echo
          action: ExecuteBinary
          inputs:
            path: /bin/echo
            arguments: [-n, "two words", second]
        - name: Relative
          action: ExecuteBinary
          onFailure: Continue
          inputs:
            path: false
    """))
    records = steps(progress)
    assert records["build.Echo"]["outputs"] == {"stdout": "two words second"}
    assert records["build.Relative"]["failureMessage"] == "false exited with code 1"


def test_assert_steps_pass_and_fail_with_the_expression(run_docs, root):
    (root / "present").write_text("x")
    progress = run_docs(build_steps("""\
        - name: Version
          action: ExecuteBash
          inputs:
            commands: [echo 1.10.2]
        - name: Holds
          action: Assert
          inputs:
            and:
              - semVerGreaterThan: 1.9.0
                value: "{{ build.Version.outputs.stdout }}"
              - fileExists: present
              - not:
                  folderExists: present
        - name: Fails
          action: Assert
          inputs:
            numberLessThan: 5
            value: "{{ build.Version.outputs.stdout }}"
    """))
    records = steps(progress)
    assert records["build.Holds"]["status"] == "success"
    assert records["build.Fails"]["failureMessage"] == "assertion is false: numberLessThan '5' with value '1.10.2'"


@pytest.mark.parametrize("expression, expected", [
    ({"stringEquals": "Hello", "value": "hello"}, True),  # string comparisons ignore case
    ({"stringEquals": "hello", "value": " hello"}, False),  # and do not trim
    ({"stringLessThan": "b", "value": "a"}, True),  # the variable value against the baseline
    ({"stringGreaterThanEquals": "b", "value": "a"}, False),
    ({"stringIsEmpty": ""}, True),
    ({"stringIsWhitespace": " \t"}, True),
    ({"stringIsWhitespace": ""}, False),
    ({"patternMatches": "^v[0-9]+$", "value": "v12"}, True),
    ({"numberEquals": "1", "value": "1.0"}, True),
    ({"numberLessThan": "5", "value": "3"}, True),
    ({"numberGreaterThan": "5", "value": "a10"}, False),  # a value that is no number is false
    ({"numberLessThanEquals": "2", "value": "2"}, True),
    ({"semVerEquals": "1.2.3", "value": "1.2.3"}, True),
    ({"semVerLessThan": "1.10.0", "value": "1.9.9"}, True),  # numeric, not textual
    ({"semVerLessThan": "1.0.0", "value": "1.0.0-rc.1"}, True),  # a pre-release comes before its release
    ({"semVerGreaterThan": "1.0.0", "value": "banana"}, False),
    ({"binaryExists": "bash"}, True),
    ({"binaryExists": "no-such-binary-anywhere"}, False),
    ({"fileExists": "/etc/hostname"}, True),
    ({"folderExists": "/etc/hostname"}, False),
    ({"or": [{"stringIsEmpty": "x"}, {"numberEquals": "2", "value": "2"}]}, True),
    ({"and": [{"stringIsEmpty": ""}, {"not": {"stringIsEmpty": ""}}]}, False),
])
def test_comparison_and_logical_operators(expression, expected):
    assert conditions.evaluate(expression) is expected


def test_file_hash_operators(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"content")
    for operator, algorithm in conditions.HASHES.items():
        digest = hashlib.new(algorithm, b"content").hexdigest()
        assert conditions.evaluate({operator: digest.upper(), "path": str(path)})
        assert not conditions.evaluate({operator: digest, "path": str(tmp_path / "missing")})


def test_apt_update_os_from_a_mirror_takes_its_lists_and_holds_back_what_it_cannot_have(monkeypatch, tmp_path):
    monkeypatch.setattr(modules_system.shutil, "which", lambda name: f"/usr/bin/{name}")
    lists, mirror = tmp_path / "lists", tmp_path / "mirror"
    (mirror / "lists" / "partial").mkdir(parents=True)
    lists.mkdir()
    (lists / "old_Packages").write_text("stale")
    (lists / "lock").write_text("")
    (mirror / "lists" / "repo_Packages").write_text("fresh")
    monkeypatch.setattr(modules_system, "LISTS", str(lists))
    ctx = RecordingContext()
    ctx.log = lambda text: ctx.commands.append(f"log: {text}")
    modules_system.apt_update_os([], [], ctx, mirror=str(mirror))
    assert sorted(path.name for path in lists.iterdir()) == ["lock", "repo_Packages"]  # no apt-get update
    assert ctx.commands == [f"log: UpdateOS: took 1 package list files from the host's mirror {mirror}/lists",
                            "apt-mark showhold",
                            f"{APT} upgrade --with-new-pkgs -o Dir::Cache::archives={mirror}/archives "
                            "--ignore-missing"]
    with pytest.raises(ActionFailed, match="has no lists; the host did not prepare it"):
        modules_system.apt_update_os([], [], ctx, mirror=str(tmp_path / "none"))
