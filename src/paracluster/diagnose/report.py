"""`paracluster diagnose`'s report: the checks' results in JSON and in words, and the bundle with the cluster's logs.

The bundle (a tar.gz, mode 0600) holds the report in both forms, the gathered facts as JSON (what each node
answered), the cluster's log streams as export-cluster-logs writes them, and its stack events.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from paracluster.diagnose.checks import FAILED, Check
from paracluster.records import to_data


def report(cluster: str, moment: str, results: list[Check]) -> dict:
    failed = [check for check in results if check.status == FAILED]
    counted = [check for check in results if check.status != "SKIPPED"]
    message = (f"All {len(counted)} checks passed." if not failed
               else f"{len(failed)} of {len(counted)} checks failed.")
    return {
        "clusterName": cluster,
        "time": moment,
        "result": "FAILED" if failed else "PASSED",
        "message": message,
        "checks": [{"check": check.name, "status": check.status, **({"node": check.node} if check.node else {}),
                    "message": check.message} for check in results],
    }


def in_words(body: dict) -> str:
    lines = [f"Diagnosis of cluster {body['clusterName']} at {body['time']}: {body['message']}"]
    width = max((len(check["check"]) for check in body["checks"]), default=0)
    for check in body["checks"]:
        where = f"{check['node']}: " if check.get("node") else ""
        lines.append(f"  {check['status']:<7} {check['check']:<{width}}  {where}{check['message']}")
    if body.get("bundle"):
        lines.append(f"Report, node answers and logs: {body['bundle']}")
    return "\n".join(lines) + "\n"


def default_bundle(cluster: str) -> Path:
    return Path.cwd() / f"{cluster}-diagnosis-{time.strftime('%Y%m%d%H%M%S')}.tar.gz"


def write_bundle(path: Path, body: dict, facts, streams: dict[str, bytes], stack_events: bytes | None) -> None:
    from paracluster.cwlogs.export import write_archive

    root = path.name.removesuffix(".tar.gz")
    extra = {"diagnosis.json": json.dumps(body, indent=2).encode(), "diagnosis.txt": in_words(body).encode(),
             "facts.json": json.dumps(to_data(facts), indent=1).encode()}
    if stack_events is not None:
        extra[f"{body['clusterName']}-cfn-events"] = stack_events
    write_archive(path, root, streams, extra)
