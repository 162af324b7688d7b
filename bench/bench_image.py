"""Time build-image --wait of a small research image on the local provider (whole CLI processes), median of N runs.

Usage: python bench/bench_image.py [--runs 5]

The image has three Image Builder components (one by ARN from a bucket with a build and a test phase, one from
inline data, one from a file://) and a script from a bucket, over the official alinux2023 image: steps that write
files and run short commands. Each run builds it under a new id as one `paracluster build-image --wait` process, then
deletes it; a first build (not counted) starts the host service and makes the image store. From the build's stack
events it shows where the time goes. Then it boots a node (as build nodes boot) from the official image (the host's
root) and from the built image (its layer over that root), alternately, and compares the times. Everything lives in a private state directory that
is removed at the end. It prints figures and asserts nothing.
Target: seconds (ParallelCluster builds with EC2 Image Builder, about an hour).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
ARN = "arn:aws:imagebuilder:us-east-1:123456789012:component"
TOOL = """\
name: BenchTool
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Install
        action: CreateFile
        inputs:
          - path: /opt/bench/bin/tool
            permissions: 755
            content: "#!/bin/sh\\necho bench tool\\n"
  - name: test
    steps:
      - name: Runs
        action: ExecuteBash
        inputs:
          commands: [/opt/bench/bin/tool]
"""
SETTINGS = """\
name: BenchSettings
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Settings
        action: ExecuteBash
        inputs:
          commands: ["mkdir -p /etc/bench", "echo site=bench > /etc/bench/site.conf"]
"""
MODULES = """\
name: BenchModules
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Modulefile
        action: CreateFile
        inputs:
          - path: /usr/share/modules/modulefiles/bench/1.0
            content: "#%Module1.0"
"""
STEPS = ("ImageRecipe", "BuildInstance", "BuildPhase", "ImageLayer", "TestInstance", "TestPhase")


def paracluster(env: dict, *args: str, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "paracluster", *args], capture_output=True, text=True, env=env,
                            cwd=PROJECT, timeout=600)
    if check and result.returncode != 0:
        raise SystemExit(f"failed: paracluster {' '.join(args)}: {result.stdout[-800:]}{result.stderr[-400:]}")
    return time.perf_counter() - start, result


def step_seconds(events: list[dict]) -> dict[str, float]:
    """How long each build step took, from its IN_PROGRESS and COMPLETE events."""
    started, took = {}, {}
    for event in reversed(events):  # the events come newest first
        moment = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
        if event["resourceStatus"] == "CREATE_IN_PROGRESS":
            started[event["logicalResourceId"]] = moment
        elif event["resourceStatus"] == "CREATE_COMPLETE" and event["logicalResourceId"] in started:
            took[event["logicalResourceId"]] = moment - started[event["logicalResourceId"]]
    return took


def boot_times(state: Path, layers: list[str], runs: int) -> dict[str, list[float]]:
    """Boot a node (as build and test nodes boot) from the official image and from the built image, alternately:
    seconds from the boot request until the node runs, each."""
    sys.path.insert(0, str(PROJECT / "src"))
    from paracluster.providers.local.images import nodes
    from paracluster.providers.local.images.store import ImageStore

    store = ImageStore(state)
    times: dict[str, list[float]] = {"official image": [], "built image": []}
    for _ in range(runs):
        for label, lower in (("official image", "/"), ("built image", store.lower_dirs(layers))):
            start = time.perf_counter()
            pid = nodes.boot(store, "bench-boot", "build", lower, "123456789012", 60.0)
            times[label].append(time.perf_counter() - start)
            nodes.stop(store, "bench-boot", "build", pid)
    shutil.rmtree(store.build_dir("bench-boot", "build").parent, ignore_errors=True)
    shutil.rmtree(store.image_dir("bench-boot"), ignore_errors=True)
    return times


def setup(env: dict, work: Path) -> Path:
    for name, text in (("tool.yaml", TOOL), ("modules.yaml", MODULES), ("setup.sh", "#!/bin/sh\ntouch /etc/bench-s3\n")):
        (work / name).write_text(text)
    for name in ("tool.yaml", "setup.sh"):
        paracluster(env, "s3", "cp", str(work / name), f"s3://bench-images/{name}")
    sources = {"bench-tool": ("--uri", "s3://bench-images/tool.yaml"), "bench-settings": ("--data", SETTINGS),
               "bench-modules": ("--data", f"file://{work / 'modules.yaml'}")}
    for name, source in sources.items():
        paracluster(env, "imagebuilder", "create-component", "--name", name, "--semantic-version", "1.0.0", *source)
    _, listed = paracluster(env, "list-official-images", "--os", "alinux2023")
    parent = json.loads(listed.stdout)["images"][0]["amiId"]
    config = work / "image.yaml"
    config.write_text(f"""\
Build:
  InstanceType: c5.xlarge
  ParentImage: {parent}
  Components:
    - Type: arn
      Value: {ARN}/bench-tool/1.0.0/1
    - Type: arn
      Value: {ARN}/bench-settings/1.0.0/1
    - Type: arn
      Value: {ARN}/bench-modules/1.0.0/1
    - Type: script
      Value: s3://bench-images/setup.sh
""")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    state = Path(f"/tmp/paracluster-bench-{uuid.uuid4().hex[:8]}")
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(state))
    state.mkdir(mode=0o700)
    work = state / "bench-input"
    work.mkdir()
    builds, steps, boots = [], {}, {}
    try:
        config = setup(env, work)
        first, _ = paracluster(env, "build-image", "-i", "bench-warmup", "-c", str(config), "--wait")
        paracluster(env, "delete-image", "-i", "bench-warmup")
        print(f"first build (host service start, image store created): {first:.2f} s")
        for run in range(args.runs):
            image_id = f"bench-{run}"
            seconds, result = paracluster(env, "build-image", "-i", image_id, "-c", str(config), "--wait")
            builds.append(seconds)
            _, events = paracluster(env, "get-image-stack-events", "-i", image_id)
            for step, took in step_seconds(json.loads(events.stdout)["events"]).items():
                steps.setdefault(step, []).append(took)
            print(f"run {run + 1}: {json.loads(result.stdout)['imageBuildStatus']} in {seconds:.2f} s")
            if run < args.runs - 1:
                paracluster(env, "delete-image", "-i", image_id)
        _, described = paracluster(env, "describe-image", "-i", f"bench-{args.runs - 1}")
        record = json.loads((state / "images" / f"bench-{args.runs - 1}" / "image.json").read_text())
        boots = boot_times(state, record["layers"], args.runs)
        paracluster(env, "delete-image", "-i", json.loads(described.stdout)["imageId"])
    finally:
        for status in ("AVAILABLE", "FAILED"):  # a run cut short leaves images (and the store's mount): delete them
            _, listed = paracluster(env, "list-images", "--image-status", status, check=False)
            for image in json.loads(listed.stdout or '{"images": []}').get("images", []):
                paracluster(env, "delete-image", "-i", image["imageId"], "--force", "true", check=False)
        code = ("from paracluster.providers.local.host.client import ServiceClient; "
                "from paracluster.settings import load_settings; ServiceClient(load_settings()).stop_service()")
        subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT)
        shutil.rmtree(state, ignore_errors=True)
    if not builds:
        return
    ordered = sorted(builds)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    print(f"\nbuild-image --wait, 3 components + 1 script, whole CLI process: median {statistics.median(builds):.2f} s, "
          f"p90 {p90:.2f} s over {len(builds)} runs (target: seconds; EC2 Image Builder: about an hour)")
    print("where the time goes (median of each build step, from its stack events):")
    for step in STEPS:
        if steps.get(step):
            print(f"  {step:<14} {statistics.median(steps[step]):.2f} s")
    for label, seconds in boots.items():
        print(f"node boot from the {label}: median {statistics.median(seconds):.3f} s over {len(seconds)} boots "
              "(alternating)")


if __name__ == "__main__":
    main()
