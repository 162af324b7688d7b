"""Which Debian package a program comes from, and whether scripts/install-deps.sh installs it (for the tests)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from support import PROJECT

from paracluster.providers.local.host import commands as hostcmd

# Programs that are not packages' files: the interpreter running ParaCluster, and the CloudWatch agent's control
# command, which ParaCluster writes into its nodes (paracluster.node.cwagent).
NOT_PACKAGED = {"python3", "python", "amazon-cloudwatch-agent-ctl"}


@functools.cache
def install_deps_packages() -> frozenset[str]:
    """The packages scripts/install-deps.sh names, and what they depend on (apt installs those with them)."""
    lines = (PROJECT / "scripts" / "install-deps.sh").read_text().split("PACKAGES=(", 1)[1].splitlines()
    named = []
    for line in lines[1:]:
        if line.strip() == ")":
            break
        named += line.split("#", 1)[0].split()
    result = subprocess.run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends", "--no-suggests",
                             "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *named],
                            capture_output=True, text=True)
    closure = {line.split(":", 1)[1].strip().strip("<>") for line in result.stdout.splitlines() if "Depends:" in line}
    return frozenset(named) | closure


@functools.cache
def priority(package: str) -> str:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Priority}", package], capture_output=True, text=True)
    return result.stdout.strip()


def package_of(program: str) -> str | None:
    """The Debian package that owns the program, or None when it is not installed."""
    path = program if program.startswith("/") else shutil.which(program, path=hostcmd.PATH)
    if path is None or not os.path.exists(path):
        return None
    candidates = {path, os.path.realpath(path)}
    for candidate in list(candidates):
        for prefix in ("/usr", ""):  # /bin and /usr/bin are one directory (merged /usr), dpkg knows one of them
            candidates.add(re.sub(r"^(/usr)?/", f"{prefix}/", candidate))
    for candidate in sorted(candidates):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def check(programs) -> list[str]:
    """Problems with these programs: not installed, or from a package install-deps does not install."""
    problems = []
    for program in sorted(programs):
        if Path(program).name in NOT_PACKAGED or program.startswith("/opt/"):
            continue
        package = package_of(program)
        if package is None:
            problems.append(f"{program}: not installed; add its package to scripts/install-deps.sh")
        elif package not in install_deps_packages() and priority(package) not in ("required", "important"):
            problems.append(f"{program}: from {package}, which scripts/install-deps.sh does not install")
    return problems
