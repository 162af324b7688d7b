"""The build and test nodes of an image build: booted as cluster nodes are, and AWSTOE's runner run inside them.

A build node's root is an overlay of the parent image (its layers over the host's root) with its upper layer on the
image store, so what its components change is the new image's layer; a test node boots from the new image. They
have a network namespace with only loopback (nodes have no route out): s3:// objects come from the local buckets,
bind-mounted, https:// files the host fetched beforehand, mounted read-only (DirectoryTransfer of the runner), and
packages from the build's package mirror (packages.py).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from paracluster.images.runner import REBOOT_EXIT
from paracluster.providers.local.host import commands as hostcmd
from paracluster.providers.local.images.packages import MIRROR_INSIDE
from paracluster.providers.local.images.store import ImageStore
from paracluster.providers.local.nodes import instances
from paracluster.providers.local.nodes.runtime import node_python, node_pythonpath

NODE_DIR_INSIDE = "/run/paracluster/node"  # init.NODE_DIR: the node's host directory, seen from inside
BUCKETS_INSIDE = "/run/paracluster/buckets"
WEB_INSIDE = "/run/paracluster/web"
RUNNER_TIMEOUT = 12 * 3600.0  # EC2 Image Builder's default build timeout (720 minutes)


def netns_name(image_id: str, role: str) -> str:
    # A dot cannot be in a cluster name, so this never collides with paracluster-<cluster>-<node>.
    return f"paracluster-image.{image_id}-{role}"


def work_dir(store: ImageStore, image_id: str, role: str, stage: str) -> Path:
    """Where the runner of one stage keeps its plan, progress and console log (on the host)."""
    return store.node_dir(image_id, role) / "toe" / stage


def boot(store: ImageStore, image_id: str, role: str, lower: str, account_id: str, start_timeout: float,
         fresh: bool = True) -> int:
    """Boot the image's build or test node over `lower` (an overlay lowerdir); return its PID 1."""
    from paracluster.providers.local.standins.buckets import buckets_root

    namespace = netns_name(image_id, role)
    if not Path("/run/netns", namespace).exists():
        hostcmd.run(["ip", "netns", "add", namespace], check=True, what=f"create the namespace of {role} node")
    hostcmd.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True, what="bring loopback up")
    buckets = buckets_root(store.state)
    buckets.mkdir(parents=True, exist_ok=True)
    web = store.image_dir(image_id) / "web"
    mirror = store.image_dir(image_id) / "apt"
    for folder in (web, mirror):
        folder.mkdir(parents=True, exist_ok=True)
    overlay = store.build_dir(image_id, role)
    node_dir = store.node_dir(image_id, role)
    spec = {
        "name": f"image-{image_id}-{role}",
        "cluster": f"image-{image_id}",
        "hostname": f"{role}-{image_id}"[:63],
        "role": "ImageBuilder",
        "node_type": "ImageBuilder",
        "overlay": {"lower": lower, "upper": str(overlay / "upper"), "work": str(overlay / "work"),
                    "root": str(overlay / "root")},
        "node_dir": str(node_dir),
        "binds": [{"source": str(buckets), "target": BUCKETS_INSIDE},
                  {"source": str(web), "target": WEB_INSIDE, "readonly": True},
                  {"source": str(mirror), "target": MIRROR_INSIDE}],
        "account_id": account_id,
    }
    pid = instances.boot_node(spec, node_dir, f"/run/netns/{namespace}", fresh_root=fresh)
    instances.wait_running(spec["name"], pid, node_dir, start_timeout)
    return pid


def stop(store: ImageStore, image_id: str, role: str, pid: int | None = None) -> None:
    """Stop the node (if it runs) and remove its network namespace."""
    instances.stop_node(pid, store.node_dir(image_id, role))
    namespace = netns_name(image_id, role)
    if Path("/run/netns", namespace).exists():
        hostcmd.run(["ip", "netns", "del", namespace])


def run_stage(store: ImageStore, image_id: str, role: str, stage: str, pid: int, on_progress) -> int:
    """Run (or continue) the runner's plan of one stage inside the node; return its exit code (0, 1, 2 or
    REBOOT_EXIT).

    `on_progress(progress)` gets the runner's progress as it changes, for describe-image's `progress`.
    """
    inside = f"{NODE_DIR_INSIDE}/toe/{stage}"
    account_id = json.loads((store.node_dir(image_id, role) / "spec.json").read_text())["account_id"]
    # No bytecode files: they would land in the image's layer.
    argv = ["/usr/bin/env", "PYTHONDONTWRITEBYTECODE=1", f"PYTHONPATH={node_pythonpath()}", node_python(), "-m",
            "paracluster.images.runner", inside, "--buckets-dir", BUCKETS_INSIDE, "--web-dir", WEB_INSIDE,
            "--account-id", account_id]
    if (store.image_dir(image_id) / "apt" / "lists").is_dir():
        argv += ["--apt-dir", MIRROR_INSIDE]
    outcome: dict = {}

    def execute() -> None:
        try:
            outcome["result"] = instances.node_exec(pid, argv, timeout=RUNNER_TIMEOUT)
        except Exception as err:  # noqa: BLE001 - a runner that cannot run or times out ends the stage
            outcome["error"] = err

    worker = threading.Thread(target=execute, daemon=True, name=f"runner-{image_id}-{stage}")
    worker.start()
    progress_path = work_dir(store, image_id, role, stage) / "progress.json"
    seen = None
    while worker.is_alive():
        worker.join(0.2)
        try:
            stamp = progress_path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
        if stamp != seen:
            seen = stamp
            try:
                on_progress(json.loads(progress_path.read_text()))
            except ValueError:
                pass  # caught between the runner's write and its rename
    result = outcome.get("result")
    if result is None:
        return 2  # node_exec raised (timed out, or nsenter failed): the stage did not end
    return result.returncode


def progress_step(progress: dict) -> str | None:
    """The step under way in a runner's progress, as 'component / phase / step'."""
    cursor = progress.get("cursor", {})
    documents = progress.get("documents", [])
    if cursor.get("document", 0) >= len(documents):
        return None
    document = documents[cursor["document"]]
    phases = document.get("phases", [])
    if cursor.get("phase", 0) >= len(phases):
        return document["name"]
    phase = phases[cursor["phase"]]
    steps = phase.get("steps", [])
    step = steps[cursor["step"]]["name"] if cursor.get("step", 0) < len(steps) else ""
    return " / ".join(part for part in (document["name"], phase["name"], step) if part)
