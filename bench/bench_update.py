"""Time update-cluster --wait that raises a MaxCount on the local provider (whole CLI processes), median of N runs.

Usage: python bench/bench_update.py [--runs 5] [--config examples/basic.yaml]

One cluster of the example config is created in a private state directory; each run raises the first compute
resource's MaxCount by one and waits for UPDATE_COMPLETE, then checks with sinfo that the new dynamic node is
declared. It prints the figures and where the update's time goes (from the host service log), and asserts nothing.
Target: under 5 s to UPDATE_COMPLETE (ParallelCluster: minutes, with a CloudFormation stack update).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import uuid
from pathlib import Path

import yaml
from local_state import PROJECT, clean_up, paracluster

TARGET = 5.0
NAME = "benchupdate"


def step_times(log: Path, since: int) -> dict[str, float]:
    pattern = re.compile(rf"update {NAME}: (.+): done \(([\d.]+)s\)")
    return {match[1]: float(match[2]) for match in pattern.finditer(log.read_text()[since:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--config", type=Path, default=PROJECT / "examples" / "basic.yaml")
    args = parser.parse_args()
    state = Path(f"/tmp/paracluster-bench-{uuid.uuid4().hex[:8]}")
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(state))
    config = yaml.safe_load(args.config.read_text())
    resource = config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]
    queue = config["Scheduling"]["SlurmQueues"][0]["Name"]
    updates, steps = [], {}
    try:
        _, result = paracluster(env, "create-cluster", "-n", NAME, "-c", str(args.config), "--wait")
        if result.returncode != 0:
            raise SystemExit(f"failed to create {NAME}: {result.stdout[-600:]}")
        for run in range(args.runs):
            resource["MaxCount"] = resource.get("MaxCount", 10) + 1
            path = state / f"update-{run}.yaml"
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            log_size = (state / "service.log").stat().st_size
            seconds, result = paracluster(env, "update-cluster", "-n", NAME, "-c", str(path), "--wait")
            if result.returncode != 0:
                raise SystemExit(f"failed to update {NAME}: {result.stdout[-600:]}")
            updates.append(seconds)
            last = resource["MaxCount"] - resource.get("MinCount", 0)
            node = f"{queue}-dy-{resource['Name']}-{last}"
            _, sinfo = paracluster(env, "ssh", "-n", NAME, "--", f"sinfo -h -n {node} -o %t")
            for step, took in step_times(state / "service.log", log_size).items():
                steps.setdefault(step, []).append(took)
            print(f"run {run + 1}: MaxCount {resource['MaxCount']}: UPDATE_COMPLETE in {seconds:.2f} s "
                  f"({node} {sinfo.stdout.strip() or 'missing'})")
    finally:
        clean_up(env, state, NAME)
    median = statistics.median(updates)
    verdict = "meets" if median < TARGET else "misses"
    print(f"update-cluster --wait raising a MaxCount (whole process): median {median:.2f} s, min {min(updates):.2f} s, "
          f"max {max(updates):.2f} s over {len(updates)} runs; target < {TARGET:.0f} s: {verdict}")
    print("where the update's time goes (median per step, host service log):")
    for step, samples in steps.items():
        print(f"  {statistics.median(samples):6.2f} s  {step}")
    print(json.dumps({"update_median_s": round(median, 3)}))


if __name__ == "__main__":
    main()
