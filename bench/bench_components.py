"""Time the parts of build-image that run component documents: create-component, loading, and the node-side runner.

Usage: python bench/bench_components.py [--runs N]

Three components like a research image's (files written, short commands, a loop, an Assert, a test phase) are
registered with `paracluster imagebuilder create-component` as whole processes, loaded, and their build and test
phases run by `/usr/bin/python3 -m paracluster.images.runner` as whole processes (the way a build node runs them),
against a temporary directory. Everything lives in a temporary state directory that is removed at the end.
It prints medians and p90s; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

from paracluster.images.document import load_document_text  # noqa: E402

HEADER = """\
schemaVersion: 1.0
parameters:
  - Root:
      type: string
phases:
"""
TOOLS = """\
name: ResearchTools
""" + HEADER + """\
  - name: build
    steps:
      - name: Folders
        action: CreateFolder
        inputs:
          - path: "{{ Root }}/opt/tools/bin"
      - name: Tool
        action: CreateFile
        inputs:
          - path: "{{ Root }}/opt/tools/bin/hello"
            content: "#!/bin/sh\\necho hello from the image\\n"
            permissions: "0755"
      - name: Version
        action: ExecuteBash
        inputs:
          commands: ['echo 1.4.2 > "{{ Root }}/opt/tools/VERSION"', 'cat "{{ Root }}/opt/tools/VERSION"']
  - name: test
    steps:
      - name: Runs
        action: ExecuteBash
        inputs:
          commands: ['"{{ Root }}/opt/tools/bin/hello" > /dev/null', 'cat "{{ Root }}/opt/tools/VERSION"']
      - name: Recent
        action: Assert
        inputs:
          semVerGreaterThanEquals: 1.0.0
          value: "{{ test.Runs.outputs.stdout }}"
"""
SCRIPT = """\
name: SiteScript
""" + HEADER + """\
  - name: build
    steps:
      - name: Users
        action: ExecuteBash
        loop:
          forEach: [alice, bob, carol]
        inputs:
          commands: ['mkdir -p "{{ Root }}/home/{{ loop.value }}"', 'echo "{{ loop.value }}" >> "{{ Root }}/etc/users"']
      - name: Motd
        action: AppendFile
        inputs:
          - path: "{{ Root }}/etc/users"
            content: "# added by the image\\n"
"""
CONFIG = """\
name: SiteConfig
""" + HEADER + """\
  - name: build
    steps:
      - name: Config
        action: CreateFile
        inputs:
          - path: "{{ Root }}/etc/site.conf"
            content: "scratch=/scratch\\n"
      - name: Copy
        action: CopyFile
        inputs:
          - source: "{{ Root }}/etc/site.conf"
            destination: "{{ Root }}/etc/site.conf.orig"
      - name: List
        action: ListFiles
        inputs:
          - path: "{{ Root }}/etc"
"""
DOCUMENTS = {"research-tools": TOOLS, "site-script": SCRIPT, "site-config": CONFIG}


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed: {result.stdout}{result.stderr}")
    return elapsed


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    print(f"{label:<62} median {statistics.median(samples) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pcl-bench-components-") as scratch:
        scratch = Path(scratch)
        env = {**os.environ, "PARACLUSTER_STATE_DIR": str(scratch / "state"), "PYTHONPATH": str(PROJECT / "src")}
        paracluster = str(Path(sys.executable).parent / "paracluster")
        create = []
        for run in range(args.runs):
            for name, text in DOCUMENTS.items():
                create.append(timed([paracluster, "imagebuilder", "create-component", "--name", name,
                                     "--semantic-version", f"1.0.{run}", "--data", text], env))
        report("create-component (whole process, per component)", create)
        loads = []
        for _ in range(args.runs):
            started = time.perf_counter()
            documents = [load_document_text(text).require() for text in DOCUMENTS.values()]
            loads.append(time.perf_counter() - started)
        report("load the three documents (in process)", loads)
        build, test = [], []
        for run in range(args.runs):
            root = scratch / f"root{run}"
            (root / "etc").mkdir(parents=True)
            components = [{"name": name, "document": document, "parameters": {"Root": str(root)}}
                          for name, document in zip(DOCUMENTS, documents)]
            for phases, samples in ((["build"], build), (["test"], test)):
                work = scratch / f"work-{phases[0]}-{run}"
                work.mkdir()
                (work / "plan.json").write_text(json.dumps({"components": components, "phases": phases}))
                samples.append(timed(["/usr/bin/python3", "-m", "paracluster.images.runner", str(work)], env))
        report("runner: build phases of 3 components, 9 steps (whole process)", build)
        report("runner: test phase, 2 steps (whole process)", test)


if __name__ == "__main__":
    main()
