"""Helpers for tests on real local clusters: a CLI runner against a private state directory, residue checks."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
NEEDS = ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/sbin/sshd", "/usr/bin/mpicc")

BASIC = """\
Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-0123456789abcdef0
  Ssh:
    KeyName: itest
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: compute
      ComputeResources:
        - Name: c5
          InstanceType: c5.xlarge
          MinCount: 2
          MaxCount: 4
      Networking:
        SubnetIds:
          - subnet-0123456789abcdef0
"""


# BASIC's top part (Region, Image, HeadNode), for tests that write their own Scheduling section.
HEADER = BASIC.split("Scheduling:")[0]


def wait_for(predicate, timeout=60, interval=0.25, what="condition", explain=None):
    """Poll until `predicate` returns something true; return it, or fail naming what did not happen.

    `explain`, if given, is called on timeout and its text is added to the failure, so a flaky wait in CI leaves
    the state it saw behind.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    detail = f"\n{explain()}" if explain else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")


@contextlib.contextmanager
def private_cli(tmp: Path, **env: str):
    """A Cli with a host service and state directory of its own (for settings in `env`); removed afterwards."""
    state_dir = Path(f"/tmp/paracluster-test-{uuid.uuid4().hex[:8]}")
    runner = Cli(state_dir, tmp)
    runner.env.update(env)
    try:
        yield runner
    finally:
        for cluster in json.loads(runner.run("list-clusters").stdout or '{"clusters": []}').get("clusters", []):
            runner.run("delete-cluster", "-n", cluster["clusterName"], "--wait")
        delete_images(runner)
        stop_service(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def delete_images(runner: Cli) -> None:
    """Delete every image of the runner's state directory (its layer store is unmounted with the last one)."""
    if not (runner.state_dir / "images").is_dir():
        return
    for status in ("AVAILABLE", "FAILED", "PENDING"):
        listed = json.loads(runner.run("list-images", "--image-status", status).stdout or '{"images": []}')
        for image in listed.get("images", []):
            runner.run("delete-image", "-i", image["imageId"], "--force", "true")


@contextlib.contextmanager
def https_site(folder: Path, files: dict[str, str]):
    """An https:// server on 127.0.0.1 serving `files` with a self-signed certificate: yields (base URL, cert path);
    a host service started with SSL_CERT_FILE set to it trusts it."""
    import ssl
    import threading
    from functools import partial
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    served = folder / "www"
    served.mkdir()
    for name, text in files.items():
        (served / name).write_text(text)
    server = HTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(served)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()


def pytest_collection_modifyitems(config, items):
    missing = [path for path in NEEDS if not Path(path).exists()]
    reason = None
    if os.geteuid() != 0:
        reason = "real-cluster tests need root (namespaces, bridges, mounts)"
    elif missing:
        reason = f"real-cluster tests need {', '.join(missing)}; run `make test`, which installs them"
    for item in items:
        if "integration" in item.nodeid.split("::")[0].split("/"):
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


class Cli:
    """Runs `paracluster` as a separate process against the test's state directory."""

    def __init__(self, state_dir: Path, tmp: Path):
        self.state_dir = state_dir
        self.tmp = tmp
        self.env = dict(os.environ, PARACLUSTER_STATE_DIR=str(state_dir))

    def run(self, *args: str, timeout: float = 120, input_text: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "paracluster", *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout, cwd=PROJECT, input=input_text)

    def json(self, *args: str, expect: int = 0, timeout: float = 120) -> dict:
        result = self.run(*args, timeout=timeout)
        assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
        assert result.returncode == expect, f"exit {result.returncode}: {result.stdout}{result.stderr}"
        return json.loads(result.stdout)

    def config(self, text: str = BASIC, name: str | None = None) -> Path:
        path = self.tmp / (name or f"config-{uuid.uuid4().hex[:8]}.yaml")
        path.write_text(textwrap.dedent(text))
        return path

    def create(self, name: str, text: str = BASIC, *extra: str) -> dict:
        return self.json("create-cluster", "-n", name, "-c", str(self.config(text)), "--wait", *extra)

    def ssh(self, name: str, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.run("ssh", "-n", name, "--", command, timeout=timeout)


def cluster_record(cli: Cli, name: str):
    """The host service's record of a cluster (a ClusterState: nodes with their instances and PIDs, network, ...)."""
    from paracluster.providers.local.host.state import StateStore

    return StateStore(cli.state_dir).load(name)


def node_pid(cli: Cli, name: str, node: str) -> int:
    """The host PID of a running node's PID 1."""
    return cluster_record(cli, name).nodes[node].instance.pid


def node_exec(cli: Cli, name: str, node: str, command: str, user: str | None = None) -> subprocess.CompletedProcess:
    """Run a shell command inside a node as root (or `user`), entering its namespaces from the host."""
    from paracluster.providers.local.nodes.instances import node_exec as exec_in_node

    return exec_in_node(node_pid(cli, name, node), ["sh", "-c", command], user=user, timeout=120)


def stop_service(state_dir: Path) -> None:
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(state_dir))
    code = ("from paracluster.providers.local.host.client import ServiceClient; from paracluster.settings import "
            "load_settings; ServiceClient(load_settings()).stop_service()")
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=30)


def residue(state_dir: Path, cluster: str | None = None) -> dict[str, list[str]]:
    """Host resources that belong to a cluster (or to the state directory): namespaces, links, mounts, processes."""
    prefix = f"paracluster-{cluster}-" if cluster else "paracluster-"
    namespaces = [n for n in os.listdir("/run/netns")] if os.path.isdir("/run/netns") else []
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
              if str(state_dir) in line.split()[1] and (cluster is None or f"/{cluster}/" in line.split()[1] + "/")]
    processes = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            needle = f"{state_dir}/clusters/{cluster}/" if cluster else f"{state_dir}/clusters/"
            if needle in cmdline:
                processes.append(f"{proc.name}: {cmdline[:120]}")
    loops = subprocess.run(["losetup", "-l", "-n", "-O", "BACK-FILE"], capture_output=True, text=True).stdout
    return {
        "namespaces": [n for n in namespaces if n.startswith(prefix)],
        "mounts": mounts,
        "processes": processes,
        "loop devices": [line for line in loops.splitlines() if str(state_dir) in line],
        "state": [str(p) for p in (state_dir / "clusters").glob(f"{cluster or '*'}")] if cluster else [],
    }


def links_of(subnet_index: int) -> list[str]:
    names = os.listdir("/sys/class/net")
    return [n for n in names if n == f"pclbr{subnet_index}" or n.startswith(f"pclv{subnet_index}x")]
