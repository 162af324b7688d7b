"""Every program ParaCluster runs (host side, node side, node services) comes from a package install-deps installs.

The programs are found statically: the first element of every literal argv in the code (run/spawn/Popen calls and
the node specs' services) and every absolute path to a program in /usr/bin, /usr/sbin, /bin or /sbin. The real-cluster
tests also record what the host service ran (tests/integration/test_zz_host_commands.py).
"""

from __future__ import annotations

import ast
import functools
import re
import shutil
from pathlib import Path

import pytest
from packages import check, install_deps_packages, package_of
from support import PROJECT

from paracluster.providers.local.host import commands as hostcmd

SOURCE = PROJECT / "src" / "paracluster"
CALLS = {"run", "spawn", "Popen", "_run", "check_output", "call", "node_exec", "exec_in_node"}
PROGRAM_PATH = re.compile(r"^/(?:usr/)?(?:s?bin|lib/systemd)/[\w.+-]+$")


def programs_in(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        argv = None
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in CALLS and node.args and isinstance(node.args[0], ast.List):
                argv = node.args[0]
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            if any(isinstance(t, ast.Name) and t.id in ("argv", "command", "cmd") for t in node.targets):
                argv = node.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "argv" and isinstance(value, ast.List):
                    argv = value
        if argv is not None and argv.elts and isinstance(argv.elts[0], ast.Constant):
            if isinstance(argv.elts[0].value, str):
                found.add(argv.elts[0].value)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and PROGRAM_PATH.match(node.value):
            found.add(node.value)
    return found


@functools.cache
def all_programs() -> dict[str, list[str]]:
    """{program: [source files that run it]} for every module that runs on the host or on local nodes."""
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        if "providers/aws" in path.as_posix():
            continue  # runs against AWS; its node side is checked with the nodes' images
        for program in programs_in(path):
            found.setdefault(program, []).append(str(path.relative_to(SOURCE)))
    return found


pytestmark = pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs Debian's dpkg")


def test_the_scan_finds_what_the_code_runs():
    programs = all_programs()
    for expected in ("ip", "losetup", "mkfs.btrfs", "haproxy", "/usr/sbin/slurmctld", "/usr/sbin/munged",
                     "lvcreate", "nsenter", "scontrol", "systemctl", "/lib/systemd/systemd", "/bin/bash"):
        assert expected in programs, expected


def test_every_program_comes_from_a_package_install_deps_installs():
    assert check(all_programs()) == []


def test_the_runner_names_the_package_of_a_missing_command(monkeypatch):
    monkeypatch.setitem(hostcmd.PACKAGES, "pcl-no-such-program", "pcl-package")
    with pytest.raises(Exception) as failure:
        hostcmd.run(["pcl-no-such-program", "--help"])
    assert str(failure.value) == ("failed to run pcl-no-such-program: the command is not installed; install the "
                                  "Debian package pcl-package (scripts/install-deps.sh does)")


def test_the_runners_package_table_agrees_with_dpkg():
    wrong = {program: (package, package_of(program)) for program, package in hostcmd.PACKAGES.items()
             if package_of(program) not in (None, package)}
    assert wrong == {}
    assert set(hostcmd.PACKAGES.values()) - {"coreutils"} <= install_deps_packages()
