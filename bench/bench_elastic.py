"""Time the elastic fleet on the local provider: jobs on powered-down nodes, power-down after idle, bursts.

Usage: python bench/bench_elastic.py [--runs 10] [--bursts 64,256]

Prints, over --runs runs: submit->RUNNING and submit->COMPLETED of a 1-node and of a 2-node job on powered-down
nodes (median, p90, and where the time goes: scheduling and power-save pickup until ResumeProgram starts, the resume
program (launch and boot), the node registering, the job starting), the idle-to-powered-down time, and the time for
bursts of N nodes to run one job. Measurements are taken on the head node (one ssh session per series) so that ssh
latency does not count. It asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
IDLE_SECONDS = 2

CONFIG = """\
Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  # ParallelCluster 3.13+ wants 1 GiB of head node memory per 25 compute nodes (HeadNodeMemorySizeValidator).
  InstanceType: c5.4xlarge
  Networking:
    SubnetId: subnet-0123456789abcdef0
  Ssh:
    KeyName: bench
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: cold
      ComputeResources:
        - Name: xl
          InstanceType: c5.xlarge
          MinCount: 0
          MaxCount: {max_count}
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""

# Runs on the head node: submit jobs to powered-down nodes and time them precisely (polling every 20 ms).
PROBE = r'''
import json, re, subprocess, sys, time
nodes, runs, idle = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def sh(cmd): return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
def powered_down(): return all(s.endswith("~") for s in sh("sinfo -h -N -p cold -o %t").split())
results = []
for run in range(runs):
    deadline = time.time() + 120
    while not powered_down() and time.time() < deadline: time.sleep(0.1)
    t0 = time.time()
    job = sh(f"sbatch --parsable -p cold -N{nodes} -t 2 --wrap 'sleep 0.5'")
    running = completed = None
    while time.time() - t0 < 120:
        state = sh(f"squeue -h -j {job} -o %T") or "DONE"
        now = time.time()
        if running is None and state in ("RUNNING", "COMPLETING", "DONE"): running = now
        if state == "DONE": completed = now; break
        time.sleep(0.02)
    hosts = sh(f"sacct -n -X -j {job} -o NodeList 2>/dev/null") or sh(f"scontrol show job {job} -o")
    t_idle = time.time()
    while not powered_down() and time.time() - t_idle < 120: time.sleep(0.05)
    results.append({"job": job, "submit": t0, "running": running, "completed": completed,
                    "powered_down": time.time(), "nodes": nodes})
print(json.dumps(results))
'''

BURST = r'''
import subprocess, sys, time
n = int(sys.argv[1])
def sh(cmd): return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
t0 = time.time()
job = sh(f"sbatch --parsable -p cold -N{n} -t 5 --wrap 'srun hostname | wc -l'")
state = ""
while time.time() - t0 < 300:
    state = sh(f"squeue -h -j {job} -o %T")
    if state in ("RUNNING", "COMPLETING", ""): break
    time.sleep(0.1)
print(f"{time.time() - t0:.2f} {state or 'DONE'} {job}")
'''


def cli(env, *args, input_text=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "paracluster", *args], capture_output=True, text=True, env=env,
                          cwd=PROJECT, timeout=timeout, input=input_text)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def phases(name, results, state_dir):
    """Split submit->RUNNING with slurmctld's log (read on the host, from the head node's root layer)."""
    import datetime as dt
    import re

    log = state_dir / "clusters" / name / "ovl" / "head" / "upper" / "var" / "log" / "slurm" / "slurmctld.log"
    events: dict[str, dict[str, float]] = {}
    patterns = {
        "submitted": r"_slurm_rpc_submit_batch_job: JobId=(\d+)",
        "allocated": r"sched: Allocate JobId=(\d+)",
        "configured": r"prolog_running_decr: Configuration for JobId=(\d+) is complete",
    }
    wakes, responding = [], []
    for line in log.read_text(errors="replace").splitlines():
        stamp_match = re.match(r"\[(\S+)\] (.*)", line)
        if not stamp_match:
            continue
        stamp = dt.datetime.fromisoformat(stamp_match[1]).timestamp()
        for event, pattern in patterns.items():
            match = re.search(pattern, stamp_match[2])
            if match:
                events.setdefault(match[1], {})[event] = stamp
        if "power_save" in line and "waking nodes" in line:
            wakes.append(stamp)
        if "now responding" in line:
            responding.append(stamp)
    split = {"submit -> allocated (Slurm's scheduler)": [],
             "allocated -> resume requested (Slurm's power-save tick)": [],
             "resume requested -> node responding (launch, next second, boot, slurmd)": [],
             "node responding -> prolog done, job starts": []}
    for result in results:
        job = events.get(str(result["job"]), {})
        if not {"allocated", "configured"} <= set(job):
            continue
        wake = next((t for t in wakes if t >= job["allocated"] - 0.01), None)
        up = next((t for t in responding if wake and t >= wake), None)
        if not (wake and up):
            continue
        split["submit -> allocated (Slurm's scheduler)"].append(job["allocated"] - result["submit"])
        split["allocated -> resume requested (Slurm's power-save tick)"].append(wake - job["allocated"])
        split["resume requested -> node responding (launch, next second, boot, slurmd)"].append(up - wake)
        split["node responding -> prolog done, job starts"].append(result["running"] - up)
    return {key: statistics.median(values) for key, values in split.items() if values}


def series(env, name, nodes, runs, state_dir):
    out = cli(env, "ssh", "-n", name, "--", f"python3 - {nodes} {runs} {IDLE_SECONDS}", input_text=PROBE,
              timeout=3600)
    results = json.loads(out.stdout)
    to_running = [r["running"] - r["submit"] for r in results if r["running"]]
    to_completed = [r["completed"] - r["submit"] for r in results if r["completed"]]
    idle = [r["powered_down"] - r["completed"] for r in results if r["completed"]]
    print(f"{nodes}-node job on powered-down nodes, {len(results)} runs:")
    print(f"  submit -> RUNNING:   median {statistics.median(to_running):.2f} s, p90 {percentile(to_running, .9):.2f} s")
    print(f"  submit -> COMPLETED: median {statistics.median(to_completed):.2f} s, "
          f"p90 {percentile(to_completed, .9):.2f} s")
    print(f"  COMPLETED -> powered down (idle time {IDLE_SECONDS} s): median {statistics.median(idle):.2f} s")
    for phase, seconds in phases(name, results, state_dir).items():
        print(f"    {seconds:5.2f} s  {phase}")
    return statistics.median(to_running)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--bursts", default="64,256")
    args = parser.parse_args()
    bursts = [int(n) for n in args.bursts.split(",") if n]
    state = Path(f"/tmp/paracluster-bench-{uuid.uuid4().hex[:8]}")
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(state),
               PARACLUSTER_LOCAL_SCALEDOWN_IDLETIME_SECONDS=str(IDLE_SECONDS))
    config = state.parent / f"{state.name}.yaml"
    config.write_text(textwrap.dedent(CONFIG.format(max_count=max([4] + bursts))))
    try:
        created = cli(env, "create-cluster", "-n", "elastic", "-c", str(config), "--wait")
        if created.returncode:
            raise SystemExit(f"failed to create the benchmark cluster: {created.stdout[-800:]}")
        one = series(env, "elastic", 1, args.runs, state)
        series(env, "elastic", 2, args.runs, state)
        print(f"target: 1-node submit -> RUNNING median <= 1.5 s: {'meets' if one <= 1.5 else 'misses'} "
              "(ParallelCluster's own baseline: 294 s)")
        for count in bursts:
            result = cli(env, "ssh", "-n", "elastic", "--", f"python3 - {count}", input_text=BURST, timeout=900)
            seconds, state_text, job = result.stdout.split()
            verdict = "" if count != 256 else f"; target 256 within 60 s: {'meets' if float(seconds) <= 60 else 'misses'}"
            print(f"burst of {count} nodes: job {job} {state_text} after {float(seconds):.1f} s{verdict}")
            cli(env, "ssh", "-n", "elastic", "--", f"scancel {job}")
            cli(env, "ssh", "-n", "elastic", "--",
                "while sinfo -h -N -p cold -o %t | grep -qv '~'; do sleep 1; done", timeout=600)
    finally:
        cli(env, "delete-cluster", "-n", "elastic", "--wait")
        code = ("from paracluster.providers.local.host.client import ServiceClient; "
                "from paracluster.settings import load_settings; ServiceClient(load_settings()).stop_service()")
        subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT)
        shutil.rmtree(state, ignore_errors=True)
        config.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
