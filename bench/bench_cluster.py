"""Time create-cluster and delete-cluster on the local provider (whole CLI processes, --wait), median of N runs.

Usage: python bench/bench_cluster.py [--runs 5] [--config examples/basic.yaml] [--setup "s3 cp ..."]...
                                     [--teardown "databases delete ..."]...

Each run creates the example cluster (head node + two static compute nodes), checks with sinfo that the static
nodes are idle, and deletes it; a private state directory keeps the runs apart from the user's clusters. It prints
the figures and where create's time goes (from the host service log). It asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
TARGETS = {"create": 10.0, "delete": 3.0}


def paracluster(env: dict, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "paracluster", *args], capture_output=True, text=True, env=env,
                            cwd=PROJECT, timeout=300)
    return time.perf_counter() - start, result


def step_times(log: Path, cluster: str) -> dict[str, float]:
    pattern = re.compile(rf"create {re.escape(cluster)}: (.+): done \(([\d.]+)s\)")
    return {match[1]: float(match[2]) for match in pattern.finditer(log.read_text())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--config", type=Path, default=PROJECT / "examples" / "basic.yaml")
    parser.add_argument("--setup", action="append", default=[],
                        help="a paracluster command line to run once first (fill buckets, put secrets)")
    parser.add_argument("--teardown", action="append", default=[],
                        help="a paracluster command line to run once at the end (delete a database)")
    args = parser.parse_args()
    state = Path(f"/tmp/paracluster-bench-{uuid.uuid4().hex[:8]}")
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(state))
    creates, deletes, steps = [], [], {}
    try:
        paracluster(env, "list-clusters")  # start the host service outside the measurements
        for command in args.setup:
            _, result = paracluster(env, *shlex.split(command))
            if result.returncode != 0:
                raise SystemExit(f"failed to run `paracluster {command}`: {result.stdout[-400:]}{result.stderr[-400:]}")
        for run in range(args.runs):
            name = f"bench{run}"
            seconds, result = paracluster(env, "create-cluster", "-n", name, "-c", str(args.config), "--wait")
            if result.returncode != 0:
                raise SystemExit(f"failed to create {name}: {result.stdout[-600:]}")
            creates.append(seconds)
            sinfo = subprocess.run([sys.executable, "-m", "paracluster", "ssh", "-n", name, "--", "sinfo -h -N -o %t"],
                                   capture_output=True, text=True, env=env, cwd=PROJECT)
            idle = sinfo.stdout.split().count("idle")
            for step, took in step_times(state / "service.log", name).items():
                steps.setdefault(step, []).append(took)
            seconds, result = paracluster(env, "delete-cluster", "-n", name, "--wait")
            if result.returncode != 0:
                raise SystemExit(f"failed to delete {name}: {result.stdout[-600:]}")
            deletes.append(seconds)
            print(f"run {run + 1}: create {creates[-1]:.2f} s ({idle} static nodes idle), delete {deletes[-1]:.2f} s")
    finally:
        for command in args.teardown:
            paracluster(env, *shlex.split(command))
        code = ("from paracluster.providers.local.host.client import ServiceClient; "
                "from paracluster.settings import load_settings; ServiceClient(load_settings()).stop_service()")
        subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT)
        shutil.rmtree(state, ignore_errors=True)
    for label, samples in (("create", creates), ("delete", deletes)):
        median = statistics.median(samples)
        verdict = "meets" if median <= TARGETS[label] else "misses"
        print(f"{label}-cluster --wait (whole process): median {median:.2f} s, min {min(samples):.2f} s, "
              f"max {max(samples):.2f} s over {len(samples)} runs; target <= {TARGETS[label]:.0f} s: {verdict}")
    print("where create's time goes (median per step, host service log):")
    for step, samples in steps.items():
        print(f"  {statistics.median(samples):6.2f} s  {step}")
    print(json.dumps({"create_median_s": round(statistics.median(creates), 3),
                      "delete_median_s": round(statistics.median(deletes), 3)}))


if __name__ == "__main__":
    main()
