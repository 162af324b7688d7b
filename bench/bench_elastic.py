"""Time the elastic fleet on the local provider: jobs on powered-down nodes, power-down after idle, bursts.

Usage: python bench/bench_elastic.py [--runs 10] [--bursts 64,256] [--series 1,2]

Prints, over --runs runs: submit->RUNNING and submit->COMPLETED of a 1-node and of a 2-node job on powered-down
nodes (median and p90, the first job after create-cluster on its own), and where the time goes, from the head node's
logs: Slurm's scheduler, until the launch starts (the PrologSlurmctld's early launch or the power-save thread's
ResumeProgram), the launch and boot of the node's namespaces, the node's services until slurmd registers, the job
starting. Each submission waits a random 0-1 s first, so that runs do not line up with Slurm's one-second ticks.
Bursts of N nodes run one job: the time to RUNNING and its parts, per node the CPU time of its boot (read from the
node's cgroup, so other load on the host does not count) and of the host service's work for it, its memory (PSS of
its processes) idle and running a task, then a cancel while every node runs a task: how long nodes stay COMPLETING
and until every node is powered down again. Times are taken on the head node (one ssh session per series) so that
ssh latency does not count. It asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
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
  InstanceType: {head_type}
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
import json, random, subprocess, sys, time
nodes, runs = int(sys.argv[1]), int(sys.argv[2])
def sh(cmd): return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
def powered_down(): return all(s.endswith("~") for s in sh("sinfo -h -N -p cold -o %t").split())
results = []
for run in range(runs):
    deadline = time.time() + 120
    while not powered_down() and time.time() < deadline: time.sleep(0.1)
    time.sleep(random.random())
    t0 = time.time()
    job = sh(f"sbatch --parsable -p cold -N{nodes} -t 2 --wrap 'sleep 0.5'")
    running = completed = None
    while time.time() - t0 < 120:
        state = sh(f"squeue -h -j {job} -o %T") or "DONE"
        now = time.time()
        if running is None and state in ("RUNNING", "COMPLETING", "DONE"): running = now
        if state == "DONE": completed = now; break
        time.sleep(0.02)
    t_idle = time.time()
    while not powered_down() and time.time() - t_idle < 120: time.sleep(0.05)
    results.append({"job": job, "submit": t0, "running": running, "completed": completed,
                    "powered_down": time.time(), "nodes": nodes})
print(json.dumps(results))
'''

# Run on the head node, one after the other: a job on N powered-down nodes (it sleeps, then runs one task per node);
# the wait for its tasks; its cancel while they run, until every node is powered down again.
BURST_START = r'''
import json, subprocess, sys, time
n = int(sys.argv[1])
def sh(cmd): return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
deadline = time.time() + 600
while time.time() < deadline and not all(s.endswith("~") for s in sh("sinfo -h -N -p cold -o %t").split()):
    time.sleep(0.5)
t0 = time.time()
job = sh(f"sbatch --parsable -p cold -N{n} -t 15 --wrap 'sleep 10; srun --ntasks-per-node=1 sleep 600'")
state = ""
while time.time() - t0 < 900:
    state = sh(f"squeue -h -j {job} -o %T")
    if state in ("RUNNING", "COMPLETING", ""): break
    time.sleep(0.1)
print(json.dumps({"job": job, "submit": t0, "running": time.time(), "state": state or "DONE", "nodes": n}))
'''
BURST_TASKS = r'''
import subprocess, sys, time
job = sys.argv[1]
def sh(cmd): return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
deadline = time.time() + 300
while time.time() < deadline and ".0" not in sh(f"squeue -h -s -j {job} -o %i"): time.sleep(0.2)
time.sleep(3)
'''
BURST_CANCEL = r'''
import json, subprocess, sys, time
job = sys.argv[1]
def sh(cmd): return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
def states(): return sh("sinfo -h -N -p cold -o %T").split()
t0 = time.time()
sh(f"scancel {job}")
completing = 0.0
while time.time() - t0 < 900:
    current = states()
    if any("COMPLETING" in s.upper() for s in current): completing = time.time() - t0
    elif all(s.endswith("~") or "POWERED_DOWN" in s.upper() for s in current): break
    time.sleep(0.2)
print(json.dumps({"completing": completing, "powered_down": time.time() - t0,
                  "left_up": sum(1 for s in states() if not (s.endswith("~") or "POWERED_DOWN" in s.upper()))}))
'''


def node_usage(state_dir: Path, name: str) -> tuple[list[float], list[float]]:
    """(CPU seconds, MiB of proportional memory) of every running node of the cluster, from its cgroups."""
    from paracluster.providers.local.nodes import cgroups

    nodes = state_dir / "clusters" / name / "nodes"
    unified = [h for h in cgroups.hierarchies(cgroups.layout()) if h.endswith(("unified", "cgroup"))][0]
    cpu, memory = [], []
    for node_dir in sorted(nodes.glob("*-dy-*")):
        group = Path(unified) / cgroups.node_group(str(node_dir))
        try:
            stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
        except OSError:
            continue
        pss = 0
        for directory, _, _ in os.walk(group):
            for pid in (Path(directory) / "cgroup.procs").read_text().split():
                try:
                    pss += sum(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text()
                               .splitlines() if line.startswith("Pss:"))
                except OSError:
                    continue
        cpu.append(int(stat["usage_usec"]) / 1e6)
        memory.append(pss / 1024)
    return cpu, memory


def process_cpu(pid: int) -> float:
    """CPU seconds of a process and of its children it waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def service_pid(env) -> int:
    code = ("from paracluster.providers.local.host.client import ServiceClient; from paracluster.settings import "
            "load_settings; print(ServiceClient(load_settings()).call('ping')['pid'])")
    return int(subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT, capture_output=True, text=True)
               .stdout.split()[-1])


PARTS_1 = ("submit -> allocated (Slurm's scheduler)",
           "allocated -> launch starts (prolog or power-save tick)",
           "launch starts -> node booted (fleet: reserve, namespaces, PID 1)",
           "node booted -> slurmd registered (bootstrap, munged, slurmd)",
           "slurmd registered -> RUNNING (prolog done, job starts)")


def cli(env, *args, input_text=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "paracluster", *args], capture_output=True, text=True, env=env,
                          cwd=PROJECT, timeout=timeout, input=input_text)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


class HeadLogs:
    """The head node's slurmctld and resume logs, read on the host from the head node's root layer."""

    def __init__(self, state_dir: Path, name: str):
        upper = state_dir / "clusters" / name / "ovl" / "head" / "upper" / "var" / "log"
        self.jobs: dict[str, dict[str, float]] = {}
        self.wakes: list[float] = []
        self.responding: list[tuple[float, str]] = []
        patterns = {
            "allocated": r"sched: Allocate JobId=(\d+)|_start_job: Started JobId=(\d+)",
            "configured": r"Configuration for JobId=(\d+) is complete",
        }
        for line in _lines(upper / "slurm" / "slurmctld.log"):
            match = re.match(r"\[(\S+)\] (.*)", line)
            if not match:
                continue
            stamp, text = _stamp(match[1]), match[2]
            for event, pattern in patterns.items():
                found = re.search(pattern, text)
                if found:
                    self.jobs.setdefault(found[1] or found[2], {}).setdefault(event, stamp)
            if "power_save" in text and "waking nodes" in text:
                self.wakes.append(stamp)
            found = re.search(r"Node (\S+) now responding", text)
            if found:
                self.responding.append((stamp, found[1]))
        # The launch programs' own lines: when a launch starts, and when its bind (the boot) returned.
        self.launches: list[float] = []
        self.booted: list[float] = []
        for line in _lines(upper / "parallelcluster" / "slurm_resume.log"):
            match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) (.*)", line)
            if not match:
                continue
            stamp, text = _stamp(match[1]), match[2]
            if text.startswith(("resume ", "early launch ")) and "nodes)" in text:
                self.launches.append(stamp)
            elif text.startswith("booted "):
                self.booted.append(stamp)

    def parts(self, result: dict) -> list[float] | None:
        """The five parts of submit -> RUNNING (PARTS_1) of one probe result, or None if a log line is missing."""
        job = self.jobs.get(str(result["job"]), {})
        allocated = job.get("allocated")
        if allocated is None or not result.get("running"):
            return None
        launch = _first_after(self.launches, allocated - 0.01)
        booted = _first_after(self.booted, launch) if launch else None
        up = _first_after([stamp for stamp, _ in self.responding], allocated)
        if not (launch and booted and up) or up > result["running"] + 0.5:
            return None
        return [allocated - result["submit"], launch - allocated, booted - launch, max(0.0, up - booted),
                max(0.0, result["running"] - up)]

    def burst_parts(self, result: dict) -> dict[str, float]:
        job = self.jobs.get(str(result["job"]), {})
        allocated = job.get("allocated")
        if allocated is None:
            return {}
        launch = _first_after(self.launches, allocated - 0.01) or allocated
        up = sorted(stamp for stamp, _ in self.responding if stamp >= allocated - 0.01)[:result["nodes"]]
        parts = {"submit -> allocated": allocated - result["submit"], "allocated -> launch starts": launch - allocated}
        if up:
            parts["launch starts -> first node registered"] = up[0] - launch
            parts["launch starts -> last node registered"] = up[-1] - launch
            parts["last node registered -> RUNNING"] = result["running"] - up[-1]
        return parts


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


def _first_after(stamps: list[float], moment: float) -> float | None:
    return next((stamp for stamp in sorted(stamps) if stamp >= moment), None)


def series(env, name, nodes, runs, state_dir, first_after_create=False):
    out = cli(env, "ssh", "-n", name, "--", f"python3 - {nodes} {runs}", input_text=PROBE, timeout=3600)
    results = json.loads(out.stdout)
    to_running = [r["running"] - r["submit"] for r in results if r["running"]]
    to_completed = [r["completed"] - r["submit"] for r in results if r["completed"]]
    idle = [r["powered_down"] - r["completed"] for r in results if r["completed"]]
    logs = HeadLogs(state_dir, name)
    if first_after_create and results and results[0]["running"]:
        first = results[0]
        split = logs.parts(first)
        detail = f" ({', '.join(f'{s:.2f}' for s in split)} s by part)" if split else ""
        print(f"first job after create-cluster: submit -> RUNNING {first['running'] - first['submit']:.2f} s{detail}")
        to_running, results = to_running[1:], results[1:]
        to_completed = to_completed[1:]
    print(f"{nodes}-node job on powered-down nodes, {len(to_running)} runs:")
    print(f"  submit -> RUNNING:   median {statistics.median(to_running):.2f} s, "
          f"p90 {percentile(to_running, .9):.2f} s, max {max(to_running):.2f} s")
    print(f"  submit -> COMPLETED: median {statistics.median(to_completed):.2f} s, "
          f"p90 {percentile(to_completed, .9):.2f} s")
    print(f"  COMPLETED -> powered down (idle time {IDLE_SECONDS} s): median {statistics.median(idle):.2f} s")
    split = [parts for parts in (logs.parts(r) for r in results) if parts]
    if split:
        print(f"  where the time goes (median, p90 over {len(split)} runs):")
        for index, label in enumerate(PARTS_1):
            values = [parts[index] for parts in split]
            print(f"    {statistics.median(values):5.2f} s  {percentile(values, .9):5.2f} s  {label}")
    return to_running


def burst(env, name, count, state_dir):
    service = service_pid(env)
    before = process_cpu(service)
    result = cli(env, "ssh", "-n", name, "--", f"python3 - {count}", input_text=BURST_START, timeout=3600)
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(f"burst of {count} nodes: no result ({result.stdout[-300:]} {result.stderr[-300:]})")
        return
    host_cpu = process_cpu(service) - before
    cpu, idle = node_usage(state_dir, name)
    seconds = data["running"] - data["submit"]
    verdict = f"; target {count} within 60 s: {'meets' if seconds <= 60 else 'misses'}" if count >= 256 else ""
    print(f"burst of {count} nodes: job {data['job']} {data['state']} after {seconds:.1f} s{verdict}")
    for label, value in HeadLogs(state_dir, name).burst_parts(data).items():
        print(f"    {value:6.2f} s  {label}")
    cli(env, "ssh", "-n", name, "--", f"python3 - {data['job']}", input_text=BURST_TASKS, timeout=600)
    _, running = node_usage(state_dir, name)
    if cpu:
        print(f"  per node ({len(cpu)} nodes): CPU to boot {statistics.mean(cpu):.3f} s in the node and "
              f"{host_cpu / count:.3f} s in the host service (with its commands); memory (PSS) "
              f"{statistics.mean(idle):.1f} MiB idle, {statistics.mean(running):.1f} MiB running a task")
    ended = cli(env, "ssh", "-n", name, "--", f"python3 - {data['job']}", input_text=BURST_CANCEL, timeout=3600)
    try:
        after = json.loads(ended.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(f"  cancel: no result ({ended.stdout[-300:]})")
        return
    print(f"  cancel while every node runs a task: nodes COMPLETING for {after['completing']:.1f} s, "
          f"every node powered down after {after['powered_down']:.1f} s"
          + (f"; {after['left_up']} nodes still up" if after["left_up"] else ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--series", default="1,2", help="node counts of the cold-job series (empty: none)")
    parser.add_argument("--bursts", default="64,256")
    parser.add_argument("--keep", action="store_true", help="leave the cluster and its state directory")
    args = parser.parse_args()
    bursts = [int(n) for n in args.bursts.split(",") if n]
    state = Path(f"/tmp/paracluster-bench-{uuid.uuid4().hex[:8]}")
    name = f"bench{state.name[-4:]}"  # node namespaces are named by cluster: another state directory may have ours
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(state),
               PARACLUSTER_LOCAL_SCALEDOWN_IDLETIME_SECONDS=str(IDLE_SECONDS))
    config = state.parent / f"{state.name}.yaml"
    biggest = max([4] + bursts)
    head_type = "c5.4xlarge" if biggest <= 256 else "c5.12xlarge" if biggest <= 1000 else "c5.24xlarge"
    config.write_text(textwrap.dedent(CONFIG.format(max_count=biggest, head_type=head_type)))
    try:
        started = time.monotonic()
        created = cli(env, "create-cluster", "-n", name, "-c", str(config), "--wait")
        if created.returncode:
            raise SystemExit(f"failed to create the benchmark cluster: {created.stdout[-800:]}")
        print(f"create-cluster ({biggest} dynamic nodes): {time.monotonic() - started:.1f} s")
        first = True
        for nodes in [int(n) for n in args.series.split(",") if n]:
            to_running = series(env, name, nodes, args.runs + (1 if first else 0), state, first)
            if first:
                median, p90 = statistics.median(to_running), percentile(to_running, .9)
                verdict = "meets" if median <= 1.0 and p90 <= 1.5 else "misses"
                print(f"target: 1-node submit -> RUNNING median <= 1.0 s and p90 <= 1.5 s: {verdict} "
                      "(ParallelCluster's own baseline: 294 s)")
            first = False
        for count in bursts:
            burst(env, name, count, state)
    finally:
        if not args.keep:
            cli(env, "delete-cluster", "-n", name, "--wait")
            code = ("from paracluster.providers.local.host.client import ServiceClient; "
                    "from paracluster.settings import load_settings; ServiceClient(load_settings()).stop_service()")
            subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT)
            shutil.rmtree(state, ignore_errors=True)
            config.unlink(missing_ok=True)
        else:
            print(f"kept: PARACLUSTER_STATE_DIR={state} cluster {name}")


if __name__ == "__main__":
    main()
