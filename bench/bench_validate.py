"""Time config validation: ParaCluster's whole `create-cluster --dryrun true` process beside ParallelCluster's schema load.

Usage: python bench/bench_validate.py [--runs N] [--config FILE]

ParallelCluster's full dryrun needs AWS, so its reference figure is a whole process that imports its schema and runs
`ClusterSchema(cluster_name=...).load()` on the same file (aws-parallelcluster==3.12.0, installed by this script into
bench/.ref-venv on first use). Both are timed as whole processes, `--runs` times each, interleaved so that machine
noise hits both alike; the script prints the medians, p90s and the ratio. It asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT.parent / "shared" / "corpus" / "pcluster"
DEFAULT_CONFIG = CORPUS / "cli/tests/pcluster/example_configs/slurm.full.yaml"
REF_VENV = PROJECT / "bench" / ".ref-venv"
REF_PACKAGE = "aws-parallelcluster==3.12.0"
TARGET_SECONDS = 0.25

REF_SNIPPET = """
import sys, yaml
from pcluster.schemas.cluster_schema import ClusterSchema
ClusterSchema(cluster_name="bench").load(yaml.safe_load(open(sys.argv[1])))
"""


def ensure_reference() -> Path | None:
    """Install ParallelCluster 3.12.0 into its own venv once; return its python, or None if it cannot be had."""
    python = REF_VENV / "bin" / "python"
    probe = [str(python), "-c", "import pcluster.schemas.cluster_schema"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"installing {REF_PACKAGE} into {REF_VENV} (first run only) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", REF_PACKAGE], check=True)
    except subprocess.CalledProcessError as err:
        print(f"failed to install the reference {REF_PACKAGE}: {err}; reporting ParaCluster alone")
        return None
    return python


# ParallelCluster's model reads the region while building objects; any region works, nothing is called.
REF_ENV = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}


def time_process(argv: list[str], expect: tuple[int, ...], env: dict | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode not in expect:
        raise SystemExit(f"failed to run {' '.join(argv)}: exit {result.returncode}: {result.stderr[-500:]}")
    return elapsed


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"median {statistics.median(samples):.3f} s, p90 {p90:.3f} s, min {ordered[0]:.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args()
    if not args.config.exists():
        raise SystemExit(f"{args.config}: not found; pass --config with a cluster config (the corpus is absent)")

    # Run the installed console script, as a user would (falls back to `python -m paracluster`).
    script = Path(sys.executable).with_name("paracluster")
    ours_cmd = [str(script)] if script.exists() else [sys.executable, "-m", "paracluster"]
    ours_cmd += ["create-cluster", "--cluster-name", "bench", "--cluster-configuration", str(args.config),
                 "--dryrun", "true"]
    reference = ensure_reference()
    ref_cmd = [str(reference), "-c", REF_SNIPPET, str(args.config)] if reference else None

    env_note = f"{os.cpu_count()} cores, python {sys.version.split()[0]}"
    print(f"config: {args.config} ({args.config.stat().st_size} bytes); {args.runs} runs each; {env_note}")
    time_process(ours_cmd, (0, 1))  # warm the page cache for both before measuring
    if ref_cmd:
        time_process(ref_cmd, (0,), REF_ENV)
    ours, theirs = [], []
    for _ in range(args.runs):
        ours.append(time_process(ours_cmd, (0, 1)))
        if ref_cmd:
            theirs.append(time_process(ref_cmd, (0,), REF_ENV))
    print(f"paracluster create-cluster --dryrun true (whole process): {summary(ours)}")
    verdict = "meets" if statistics.median(ours) <= TARGET_SECONDS else "misses"
    print(f"  target <= {TARGET_SECONDS} s: {verdict}")
    if theirs:
        print(f"ParallelCluster 3.12.0 ClusterSchema().load (whole process): {summary(theirs)}")
        ratio = statistics.median(theirs) / statistics.median(ours)
        print(f"ratio (ParallelCluster / ParaCluster, medians): {ratio:.1f}x")


if __name__ == "__main__":
    main()
