"""Measure the AWS stand-ins: start time, memory and request latency of each server, and what IMDS costs per node.

Usage (root): python bench/bench_awsapi.py [--nodes 1000] [--runs 5]

S3 and Secrets Manager run on 127.0.0.1 with a scratch state directory. IMDS gets --nodes network namespaces
(`pcl-bench-<hex>-<n>`, loopback only) registered with one server: the time per registration, the server's memory
and descriptors, and the kernel's unreclaimable slab before and after, per node; then the latency of a token and a
metadata read from inside one namespace. For comparison it prints what the designs not taken would cost where their
tools exist on this machine (they are not dependencies): a forwarder process per node (socat) and a DNAT rule per
node (nft). Last, what a site script pays per command of the nodes' AWS CLI and per boto3 client, as whole
processes of the nodes' python3 against the endpoints (fake credentials, metadata service off: on the host,
169.254.169.254 is the machine's). Everything it creates is removed. It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

from paracluster.providers.local.standins import buckets
from paracluster.providers.local.standins import secrets  # noqa: E402
from paracluster.providers.local.standins.awsapi import endpoints, imds_server, nodesdk, process  # noqa: E402
from paracluster.providers.local.standins.awsapi.imds import NodeRecord  # noqa: E402

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench"

# Runs inside a node namespace: IMDSv2 token + one read, timed, `runs` times.
IMDS_PROBE = r'''
import json, sys, time, urllib.request
base = "http://169.254.169.254"
times = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    token = urllib.request.urlopen(urllib.request.Request(base + "/latest/api/token", method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=5).read().decode()
    urllib.request.urlopen(urllib.request.Request(base + "/latest/meta-data/instance-id",
        headers={"X-aws-ec2-metadata-token": token}), timeout=5).read()
    times.append(time.perf_counter() - start)
print(json.dumps(times))
'''


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def slab_unreclaimable_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("SUnreclaim:"):
            return int(line.split()[1])
    return 0


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


def bench_http_servers(state_dir: Path, runs: int) -> None:
    source = state_dir.parent / "object.txt"
    source.write_text("x" * 1024)
    buckets.put(state_dir, source, "s3://bench/object.txt")
    secrets.put(state_dir, ARN, b"value")
    requests = {
        "s3": lambda url: urllib.request.Request(f"{url}/bench/object.txt"),
        "secretsmanager": lambda url: urllib.request.Request(
            url, data=json.dumps({"SecretId": ARN}).encode(), method="POST",
            headers={"X-Amz-Target": "secretsmanager.GetSecretValue",
                     "Content-Type": "application/x-amz-json-1.1"}),
    }
    for service, request in requests.items():
        starts, memory, latencies = [], [], []
        for _ in range(runs):
            begin = time.perf_counter()
            record = endpoints.start(service, state_dir, "127.0.0.1")
            starts.append(time.perf_counter() - begin)
            url = f"http://127.0.0.1:{record['port']}"
            for _ in range(50):
                begin = time.perf_counter()
                urllib.request.urlopen(request(url), timeout=5).read()
                latencies.append(time.perf_counter() - begin)
            memory.append(rss_mib(record["pid"]))
            endpoints.stop(service, state_dir, "127.0.0.1")
        print(f"{service:15s} start {median_ms(starts)}   RSS {statistics.median(memory):5.1f} MiB   "
              f"request {median_ms(latencies)} (median of {len(latencies)})")


def make_namespaces(names: list[str]) -> None:
    subprocess.run(["ip", "-batch", "-"], input="".join(f"netns add {name}\n" for name in names), text=True,
                   check=True)


def delete_namespaces(names: list[str]) -> None:
    subprocess.run(["ip", "-force", "-batch", "-"], input="".join(f"netns del {name}\n" for name in names),
                   text=True, capture_output=True)


def bench_imds(state_dir: Path, nodes: int, runs: int) -> None:
    begin = time.perf_counter()
    server = imds_server.start(state_dir)
    print(f"{'imds':15s} start {median_ms([time.perf_counter() - begin])}   RSS {rss_mib(server['pid']):5.1f} MiB "
          "(no nodes)")
    tag = uuid.uuid4().hex[:4]
    names = [f"pcl-bench-{tag}-{index}" for index in range(nodes)]
    try:
        begin = time.perf_counter()
        make_namespaces(names)
        print(f"  {nodes} namespaces made in {time.perf_counter() - begin:.1f} s (not counted below)")
        slab_before, rss_before = slab_unreclaimable_kib(), rss_mib(server["pid"])
        times = []
        for index, name in enumerate(names):
            record = NodeRecord(netns=f"/run/netns/{name}", instance_id=f"i-{index:017x}", instance_type="c5.large",
                                local_ipv4=f"10.{index // 65536}.{index // 256 % 256}.{index % 256}",
                                local_hostname=name, availability_zone="us-east-1a", region="us-east-1",
                                role_name="bench-role")
            begin = time.perf_counter()
            imds_server.register(state_dir, record)
            times.append(time.perf_counter() - begin)
        slab_after, rss_after = slab_unreclaimable_kib(), rss_mib(server["pid"])
        descriptors = len(os.listdir(f"/proc/{server['pid']}/fd"))
        print(f"  register: median {median_ms(times)}, p90 {sorted(times)[int(len(times) * 0.9)] * 1000:.1f} ms, "
              f"all {sum(times):.1f} s for {nodes} nodes")
        print(f"  per node: server RSS {(rss_after - rss_before) * 1024 / nodes:.1f} KiB, kernel slab "
              f"{(slab_after - slab_before) / nodes:.1f} KiB, 1 descriptor ({descriptors} open at {nodes} nodes), "
              f"no process")
        subprocess.run(["ip", "-n", names[0], "link", "set", "lo", "up"], check=True)
        probe = subprocess.run(["ip", "netns", "exec", names[0], sys.executable, "-c", IMDS_PROBE, str(runs * 20)],
                               capture_output=True, text=True, check=True)
        print(f"  token + read from a node: {median_ms(json.loads(probe.stdout))} (median, {nodes} nodes registered)")
        begin = time.perf_counter()
        for name in names:
            imds_server.unregister(state_dir, f"/run/netns/{name}")
        print(f"  unregister: {(time.perf_counter() - begin) / nodes * 1000:.2f} ms per node")
    finally:
        imds_server.stop(state_dir)
        delete_namespaces(names)


def bench_alternatives(nodes: int) -> None:
    """What a per-node forwarder process or a per-node DNAT rule would cost (only where the tool exists)."""
    if shutil.which("socat"):
        proc = subprocess.Popen(["socat", "TCP-LISTEN:0,bind=127.0.0.1,fork", "TCP:127.0.0.1:9"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        rss = rss_mib(proc.pid)
        proc.terminate()
        proc.wait()
        print(f"  not taken, a forwarder process per node (socat): {rss * 1024:.0f} KiB RSS each, "
              f"{rss * nodes / 1024:.2f} GiB at {nodes} nodes, plus a process per node to supervise")
    else:
        print("  not taken, a forwarder process per node: socat is not installed here, not measured")
    if shutil.which("nft"):
        name = f"pcl-bench-nft-{uuid.uuid4().hex[:4]}"
        make_namespaces([name])
        rules = ("table ip pcl_imds {\n chain out {\n  type nat hook output priority -100;\n"
                 "  ip daddr 169.254.169.254 tcp dport 80 dnat to 10.0.0.1:8080\n }\n}\n")
        begin = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", name, "nft", "-f", "-"], input=rules, text=True, check=True)
        elapsed = time.perf_counter() - begin
        delete_namespaces([name])
        print(f"  not taken, a DNAT rule per node (nft): {elapsed * 1000:.1f} ms per node to load (a process "
              "each), plus a route and the node's source address trusted")
    else:
        print("  not taken, a DNAT rule per node: nft (Debian's nftables) is not installed here, not measured")


BOTO3_PROBE = """
import boto3
boto3.client("s3").get_object(Bucket="bench", Key="object.txt")["Body"].read()
boto3.client("secretsmanager").get_secret_value(SecretId="bench")
"""


def bench_node_sdk(state_dir: Path, runs: int) -> None:
    """The nodes' AWS CLI and boto3 as site scripts run them: one process per command."""
    python = nodesdk.node_python()
    sdk = nodesdk.install_sdk(python)
    target = state_dir.parent / "copied"
    for index in range(20):
        source = state_dir.parent / f"part-{index}.txt"
        source.write_text(f"part {index}\n")
        buckets.put(state_dir, source, f"s3://bench/prefix/part-{index}.txt")
    secrets.put(state_dir, ARN, b"value")
    urls = endpoints.start_cluster_endpoints(state_dir, "127.0.0.1")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(state_dir.parent), "PYTHONPATH": str(sdk),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           **nodesdk.node_environment("us-east-1", urls)}
    commands = {
        "aws s3 cp --recursive (20 objects)": [python, "-m", "awscli", "s3", "cp", "--only-show-errors",
                                               "--recursive", "s3://bench/prefix/", str(target)],
        "aws secretsmanager get-secret-value": [python, "-m", "awscli", "secretsmanager", "get-secret-value",
                                                "--secret-id", "bench", "--query", "SecretString"],
        "python3: boto3 get_object + get_secret_value": [python, "-c", BOTO3_PROBE],
    }
    for label, argv in commands.items():
        times = []
        for _ in range(runs):
            begin = time.perf_counter()
            subprocess.run(argv, env=env, check=True, capture_output=True, timeout=120)
            times.append(time.perf_counter() - begin)
        print(f"  {label:46s} {median_ms(times)} (median of {runs}, whole process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_awsapi needs root (network namespaces)")
    scratch = Path(tempfile.mkdtemp(prefix="pcl-bench-awsapi-"))
    state_dir = scratch / "state"
    try:
        bench_http_servers(state_dir, args.runs)
        bench_imds(state_dir, args.nodes, args.runs)
        bench_alternatives(args.nodes)
        print("the nodes' AWS CLI and boto3 (site scripts):")
        bench_node_sdk(state_dir, args.runs)
    finally:
        for name in ("s3-127.0.0.1", "secretsmanager-127.0.0.1", "imds"):
            process.stop(state_dir, name)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
