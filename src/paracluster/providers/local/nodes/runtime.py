"""Install the node-side programs where every node and the slurm user can run them: /opt/paracluster/lib/<digest>.

Nodes run the host's system Python (their root is an overlay of the host's), so node-side modules use only the
standard library. The package is copied from the running code, keyed by a digest of its sources, so nodes always run
the same code as the host service, even from a development checkout under a private directory.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from pathlib import Path

import paracluster
from paracluster.providers.local.host import commands as hostcmd

RUNTIME_ROOT = Path("/opt/paracluster/lib")
NODE_PYTHON = "/usr/bin/python3"


@functools.cache
def code_digest() -> str:
    """A digest of the package's sources: the host service and the CLI compare it to detect a stale service."""
    package = Path(paracluster.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def runtime_dir() -> Path:
    return RUNTIME_ROOT / f"paracluster-{paracluster.__version__}-{code_digest()}"


def node_pythonpath() -> str:
    return str(runtime_dir())


def node_python() -> str:
    return NODE_PYTHON


def install_runtime() -> Path:
    """Copy the package (Python sources, their bytecode and data) into the runtime directory, world-readable; no-op
    if present.

    Copies of other code versions that no running process uses any more are removed.
    """
    target = runtime_dir()
    prune_runtimes(keep=target)
    if (target / ".complete").exists():
        return target
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    source = Path(paracluster.__file__).parent
    shutil.copytree(source, staging / "paracluster", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # Bytecode for the nodes' Python: every node boot and every run of a Slurm program imports this code, and
    # neither a node (whose writes land in its own root layer) nor the slurm user can keep what it compiles.
    hostcmd.run([NODE_PYTHON, "-m", "compileall", "-q", str(staging)], timeout=300)
    for path in [staging, *staging.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (staging / ".complete").touch()
    for parent in (RUNTIME_ROOT, RUNTIME_ROOT.parent):
        parent.chmod(0o755)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another service instance installed it first
    return target


def prune_runtimes(keep: Path) -> list[Path]:
    """Remove the node-side copies of other code versions that no process uses; return what was removed.

    A copy is in use while a process has it on its command line or in its environment: a host service has its own
    in its environment from its start (PARACLUSTER_NODE_RUNTIME, set by the client that starts it), and the cluster
    managers and node agents of clusters booted by an earlier service run with it as PYTHONPATH.
    """
    if not RUNTIME_ROOT.is_dir():
        return []
    # Only copies of the package (anything else there, such as an older install of the nodes' AWS SDK, stays), and not
    # one being staged (`.tmp<pid>`): it belongs to a service installing it right now.
    candidates = [path for path in RUNTIME_ROOT.glob("paracluster-*")
                  if path.is_dir() and path != keep and ".tmp" not in path.name]
    if not candidates:
        return []
    needles = {str(path).encode(): path for path in candidates}
    used: set[Path] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        for name in ("cmdline", "environ"):
            try:
                data = (proc / name).read_bytes()
            except OSError:
                continue
            used.update(path for needle, path in needles.items() if needle in data)
    removed = []
    for path in candidates:
        if path not in used:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
