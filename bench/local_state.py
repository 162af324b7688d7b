"""What the local-provider benchmarks share: paracluster as a whole process against a private state directory, and
the cleanup of that directory (its cluster deleted, its host service stopped)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def paracluster(env: dict, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    """(seconds, result) of one `paracluster` process."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "paracluster", *args], capture_output=True, text=True, env=env,
                            cwd=PROJECT, timeout=300)
    return time.perf_counter() - start, result


def clean_up(env: dict, state: Path, cluster: str) -> None:
    """Delete the cluster, stop the state directory's host service, remove the directory."""
    paracluster(env, "delete-cluster", "-n", cluster, "--wait")
    code = ("from paracluster.providers.local.host.client import ServiceClient; "
            "from paracluster.settings import load_settings; ServiceClient(load_settings()).stop_service()")
    subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT)
    shutil.rmtree(state, ignore_errors=True)
