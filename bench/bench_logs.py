"""Time get-cluster-log-events as a whole CLI process on the local provider, median and p90 of N runs.

Usage: python bench/bench_logs.py [--runs 20] [--lines 20000] [--config examples/basic.yaml]

One cluster of the example config is created in a private state directory. Two streams are read: the head node's
slurmctld stream (a few dozen events, as after a create), and a stream of a site log file of `--lines` lines that a
script on the head node adds to the CloudWatch agent's collection (a full page: 10,000 events). Each run is
`paracluster get-cluster-log-events -n NAME --log-stream-name S` (the latest events, as pcluster's default), a new
process every time. It also times list-cluster-log-streams, and how long a line written on a node takes to be
readable. It prints the figures and asserts nothing. Target: get-cluster-log-events under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from pathlib import Path

from local_state import PROJECT, clean_up, paracluster

TARGET = 0.5
NAME = "benchlogs"
SITE = """\
#!/bin/bash
# A site script's own log file, added to the CloudWatch agent's collection (run as root on the head node).
set -e
mkdir -p /var/log/bench
seq 1 LINES | sed 's/^/2026-01-01 00:00:00 bench line /' > /var/log/bench/site.log
group=$(python3 -c "import json; print(json.load(open('/etc/chef/dna.json'))['cluster']['log_group_name'])")
cat > /tmp/bench-cw.json <<EOF
{"logs": {"logs_collected": {"files": {"collect_list": [{"file_path": "/var/log/bench/site.log",
  "log_group_name": "$group", "log_stream_name": "{hostname}.{instance_id}.bench-site"}]}}}}
EOF
amazon-cloudwatch-agent-ctl -a append-config -m ec2 -c file:/tmp/bench-cw.json -s
"""


def answer(env: dict, *args: str) -> dict:
    _, result = paracluster(env, *args)
    if result.returncode != 0:
        raise SystemExit(f"paracluster {' '.join(args)} failed: {result.stdout[-600:]}{result.stderr[-600:]}")
    return json.loads(result.stdout)


def wait_for_stream(env: dict, suffix: str, events: int, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = [s["logStreamName"] for s in answer(env, "list-cluster-log-streams", "-n", NAME)["logStreams"]]
        found = [name for name in names if name.endswith(suffix)]
        if found and len(answer(env, "get-cluster-log-events", "-n", NAME, "--log-stream-name", found[0],
                                "--start-from-head", "true", "--limit", str(events))["events"]) >= events:
            return found[0]
        time.sleep(0.5)
    raise SystemExit(f"no stream *{suffix} with {events} events within {timeout:.0f} s")


def report(what: str, samples: list[float], target: float | None = None) -> None:
    samples = sorted(samples)
    p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
    verdict = f" (target < {target} s: {'met' if statistics.median(samples) < target else 'missed'})" if target else ""
    print(f"{what}: median {statistics.median(samples):.3f} s, p90 {p90:.3f} s, min {samples[0]:.3f} s "
          f"over {len(samples)} runs{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--config", type=Path, default=PROJECT / "examples" / "basic.yaml")
    args = parser.parse_args()
    state = Path(f"/tmp/paracluster-bench-{uuid.uuid4().hex[:8]}")
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(state))
    try:
        answer(env, "create-cluster", "-n", NAME, "-c", str(args.config), "--wait")
        small = wait_for_stream(env, ".slurmctld", 5)
        written = time.perf_counter()
        (state / "clusters" / NAME / "shared" / "home" / "bench-site.sh").write_text(
            SITE.replace("LINES", str(args.lines)))  # the cluster's shared /home
        _, result = paracluster(env, "ssh", "-n", NAME, "--", "sudo bash /home/bench-site.sh")
        if result.returncode != 0:
            raise SystemExit(f"the site script failed: {result.stdout}{result.stderr}")
        big = wait_for_stream(env, ".bench-site", min(args.lines, 10_000), timeout=120)
        print(f"a site log of {args.lines} lines: readable as events {time.perf_counter() - written:.2f} s after "
              "the script started (collection every second)")
        for label, stream in (("slurmctld stream", small), (f"{args.lines}-line stream", big)):
            samples, count = [], 0
            for _ in range(args.runs):
                seconds, result = paracluster(env, "get-cluster-log-events", "-n", NAME, "--log-stream-name", stream)
                if result.returncode != 0:
                    raise SystemExit(f"get-cluster-log-events failed: {result.stdout[-400:]}")
                count = len(json.loads(result.stdout)["events"])
                samples.append(seconds)
            report(f"get-cluster-log-events, {label} ({count} events a page)", samples, TARGET)
        samples = [paracluster(env, "list-cluster-log-streams", "-n", NAME)[0] for _ in range(args.runs)]
        report("list-cluster-log-streams", samples)
    finally:
        clean_up(env, state, NAME)


if __name__ == "__main__":
    main()
