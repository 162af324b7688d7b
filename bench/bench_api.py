"""Measure the REST API and the dashboard: list and describe over HTTP with many clusters, the dashboard's first load.

Usage (root): python bench/bench_api.py [--clusters 20] [--runs 50] [--page-loads 5]

It creates --clusters clusters through the API on a scratch state directory, each a head node only (the queue has
MinCount 0: twenty clusters of real compute nodes would not fit a 2-core machine, and list and describe do not
depend on the node count), starts `paracluster api serve`, and prints the median and p90 of list-clusters and
describe-cluster over one keep-alive HTTP connection (targets: median under 50 ms), then the dashboard's first page
load in a fresh headless Chromium until its cluster table shows every cluster (target: under 1 s). Everything it
creates is deleted. It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# examples/basic.yaml without its static nodes: a head node only.
HEAD_ONLY = (PROJECT / "examples" / "basic.yaml").read_text().replace("MinCount: 2", "MinCount: 0")


def paracluster(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paracluster", *args], capture_output=True, text=True, env=env,
                          cwd=PROJECT, timeout=120, check=True)


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms   p90 {p90 * 1000:6.1f} ms   (n={len(ordered)})"


def timed(fn, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_api: timed out waiting for {what}")
        time.sleep(0.5)


def create_clusters(http: httpx.Client, names: list[str]) -> float:
    started = time.perf_counter()
    for name in names:
        answer = http.post("/v3/clusters", json={"clusterName": name, "clusterConfiguration": HEAD_ONLY})
        answer.raise_for_status()

    def all_created():
        statuses = {c["clusterName"]: c["clusterStatus"] for c in http.get("/v3/clusters").json()["clusters"]}
        failed = [name for name, status in statuses.items() if status.endswith("FAILED")]
        if failed:
            raise SystemExit(f"bench_api: creating {', '.join(failed)} failed")
        return all(statuses.get(name) == "CREATE_COMPLETE" for name in names)

    wait(all_created, 600, "the clusters to be created")
    return time.perf_counter() - started


def page_loads(url: str, token: str, clusters: int, runs: int) -> tuple[list[float], list[float]]:
    """Per fresh browser context: time to the load event, and to a cluster table with every cluster and its age."""
    from playwright.sync_api import sync_playwright

    loaded, shown = [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs):
            context = browser.new_context()  # an empty cache: a first visit
            page = context.new_page()
            started = time.perf_counter()
            page.goto(f"{url}/ui/#token={token}", wait_until="load")
            loaded.append(time.perf_counter() - started)
            page.wait_for_function(
                "n => [...document.querySelectorAll('#cluster-list tbody td.age')].filter(c => c.textContent).length"
                " >= n", arg=clusters)
            shown.append(time.perf_counter() - started)
            context.close()
        browser.close()
    return loaded, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--page-loads", type=int, default=5)
    args = parser.parse_args()

    state_dir = Path(f"/tmp/paracluster-bench-api-{uuid.uuid4().hex[:8]}")
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(state_dir))
    names = [f"pclbench{n:02d}" for n in range(args.clusters)]
    server = None
    http = None
    try:
        token = paracluster(env, "api", "token", "create", "--name", "bench").stdout
        token = re.search(r'"token": "([^"]+)"', token).group(1)
        log = state_dir / "api-server.log"
        with open(log, "w") as out:
            server = subprocess.Popen([sys.executable, "-m", "paracluster", "api", "serve", "--port", "0"],
                                      stderr=out, stdout=subprocess.DEVNULL, env=env, cwd=PROJECT)
        wait(lambda: "/v3" in log.read_text(), 30, "the API server to start")
        url = re.search(r"on (http://[\d.]+:\d+)/v3", log.read_text()).group(1)
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        took = create_clusters(http, names)
        print(f"{args.clusters} clusters (head node only: queue MinCount 0) created through the API in {took:.1f} s")

        http.get("/v3/clusters").raise_for_status()  # warm: the host service's connection check is done once
        print(f"list-clusters over HTTP ({args.clusters} clusters):     "
              f"{figures(timed(lambda: http.get('/v3/clusters').raise_for_status(), args.runs))}")
        print(f"describe-cluster over HTTP:                  "
              f"{figures(timed(lambda: http.get(f'/v3/clusters/{names[0]}').raise_for_status(), args.runs))}")
        print("  target: median under 50 ms")
        if Path(CHROMIUM).exists():
            loaded, shown = page_loads(url, token, args.clusters, args.page_loads)
            print(f"dashboard first load, to the load event:     {figures(loaded)}")
            print(f"dashboard first load, to {args.clusters} clusters shown:  {figures(shown)}")
            print("  target: under 1 s")
        else:
            print(f"dashboard: not measured ({CHROMIUM} is missing; make deps installs it)")
    finally:
        if http is not None:
            for name in names:
                http.delete(f"/v3/clusters/{name}")
            wait(lambda: not http.get("/v3/clusters").json()["clusters"], 600, "the clusters to be deleted")
            http.close()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        code = ("from paracluster.providers.local.host.client import ServiceClient; from paracluster.settings import "
                "load_settings; ServiceClient(load_settings()).stop_service()")
        subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT, timeout=60)
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
