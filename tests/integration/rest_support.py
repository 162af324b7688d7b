"""Helpers for the REST API's real-cluster tests: `paracluster api serve` on a private state directory, a token."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import subprocess
import sys
import threading

import httpx
from cluster_support import HEADER, PROJECT, Cli, wait_for

# A head node and one queue of one static and one dynamic node (light on this machine).
SMALL = HEADER + """\
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: work
      ComputeResources:
        - Name: c5
          InstanceType: c5.xlarge
          MinCount: 1
          MaxCount: 2
      Networking:
        SubnetIds:
          - subnet-0123456789abcdef0
"""
HEAD_ONLY = SMALL.replace("MinCount: 1", "MinCount: 0")


@dataclasses.dataclass
class Server:
    url: str
    token: str
    client: httpx.Client
    log: list[str]


@contextlib.contextmanager
def api_server(cli: Cli, *args: str):
    """A running `paracluster api serve --port 0` with a read-write token; stopped (by its PID) afterwards."""
    token = cli.json("api", "token", "create", "--name", "tests")["token"]
    proc = subprocess.Popen([sys.executable, "-m", "paracluster", "api", "serve", "--port", "0", *args],
                            stderr=subprocess.PIPE, text=True, env=cli.env, cwd=PROJECT)
    first = proc.stderr.readline()
    found = re.search(r"on (https?://[\d.]+:\d+)/v3", first)
    if not found:
        proc.kill()
        raise AssertionError(f"the API server did not start: {first}{proc.stderr.read()}")
    log = [first]
    threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()  # keep the pipe drained
    client = httpx.Client(base_url=found.group(1), headers={"Authorization": f"Bearer {token}"}, timeout=120)
    try:
        yield Server(found.group(1), token, client, log)
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=30)


def wait_for_status(server: Server, name: str, status: str, timeout: float = 180) -> dict:
    """Poll describe-cluster over HTTP until the cluster reaches `status` (fail at once on a *_FAILED one)."""

    def reached():
        described = server.client.get(f"/v3/clusters/{name}").json()
        assert not described.get("clusterStatus", "").endswith("FAILED"), described
        return described if described.get("clusterStatus") == status else None

    return wait_for(reached, timeout=timeout, interval=0.5, what=f"cluster {name} to be {status}")


def wait_until_gone(server: Server, name: str, timeout: float = 180) -> None:
    wait_for(lambda: server.client.get(f"/v3/clusters/{name}").status_code == 404, timeout=timeout, interval=0.5,
             what=f"cluster {name} to be deleted")


def wait_for_image(server: Server, image_id: str, timeout: float = 120) -> dict:
    """Poll describe-image over HTTP until the build ends; its answer (fail on a failed build)."""

    def ended():
        described = server.client.get(f"/v3/images/custom/{image_id}").json()
        assert described.get("imageBuildStatus") != "BUILD_FAILED", described
        return described if described.get("imageBuildStatus") == "BUILD_COMPLETE" else None

    return wait_for(ended, timeout=timeout, interval=0.3, what=f"image {image_id} to be built")
