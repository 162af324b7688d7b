"""What `paracluster diagnose` checks, gathered on a local cluster's nodes: the node probe in each running node.

Three rounds, for munge across nodes: the head node answers first and makes a credential; every other node (side by
side) answers, decodes the head node's credential and makes its own; the head node decodes those. Which daemons a
node should run comes from its spec (its services that keep running).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from paracluster.diagnose.facts import ClusterFacts, NodeFacts
from paracluster.providers.local.nodes import instances
from paracluster.providers.local.nodes.runtime import node_python, node_pythonpath
from paracluster.records import now

PROBE_TIMEOUT = 60.0


def _probe(pid: int, request: dict) -> tuple[dict | None, str | None, float, float]:
    """(answer, error, host time before, host time after) of the probe in one node."""
    argv = ["/usr/bin/env", f"PYTHONPATH={node_pythonpath()}", node_python(), "-m", "paracluster.node.probe"]
    before = time.time()
    try:
        result = instances.node_exec(pid, argv, timeout=PROBE_TIMEOUT, input_text=json.dumps(request))
    except Exception as err:  # noqa: BLE001 - a node that cannot be entered is a finding, not a crash
        return None, f"{type(err).__name__}: {err}", before, time.time()
    after = time.time()
    if result.returncode != 0:
        return None, (result.stderr.strip() or f"exit code {result.returncode}")[-300:], before, after
    try:
        return json.loads(result.stdout), None, before, after
    except ValueError:
        return None, f"unreadable answer: {result.stdout[-200:]}", before, after


def _daemons(spec: dict | None) -> dict[str, list[str]]:
    return {service["name"]: service["argv"] for service in (spec or {}).get("services", [])
            if not service.get("oneshot")}


def gather(service, record) -> ClusterFacts:
    from paracluster.providers.local.standins.accounting import slurmrestd_url

    config = service.plan(record.name).config
    slurm = config.scheduling.slurm_settings
    facts = ClusterFacts(
        cluster=record.name, time=now(), nodes=[], node_failures=list(record.observed.node_failures),
        accounting=bool(slurm.database.present or slurm.external_slurmdbd.present),
        slurmrestd_url=slurmrestd_url(record),
        resume_timeout=float(service.settings["local.resume_timeout"]),
        clustermgtd_interval=float(service.settings["local.clustermgtd_interval"]),
    )
    running = [node for node in record.nodes.values()
               if node.instance is not None and node.instance.state == "running" and node.instance.pid]
    wanted = {node.name: _daemons(service.collector.node_spec(service.store.node_dir(record.name, node.name)))
              for node in running}

    def ask(node, request: dict) -> NodeFacts:
        answer, error, before, after = _probe(node.instance.pid, {"daemons": wanted[node.name], **request})
        return NodeFacts(node.name, node.node.node_type, node.instance.instance_id, sorted(wanted[node.name]),
                         answer, error, before, after)

    head = next((node for node in running if node.node.node_type == "HeadNode"), None)
    others = [node for node in running if node is not head]
    head_facts = None
    credential = None
    if head is not None:
        head_facts = ask(head, {"create_credential": True, "head": True, "accounting": facts.accounting,
                                "slurmrestd_url": facts.slurmrestd_url})
        credential = (head_facts.probe or {}).get("credential")
    with ThreadPoolExecutor(max_workers=instances.PARALLEL_NODE_OPERATIONS) as pool:
        found = list(pool.map(lambda node: ask(node, {"create_credential": True,
                                                      "decode": [credential] if credential else []}), others))
    if head_facts is not None and head_facts.probe is not None:
        asked = [item for item in found if item.probe and item.probe.get("credential")]
        answer, error, _, _ = _probe(head.instance.pid, {"decode_only": [item.probe["credential"] for item in asked]})
        decodes = (answer or {}).get("decodes") or [{"ok": False, "detail": error or "no answer"}] * len(asked)
        for item, decoded in zip(asked, decodes):
            item.head_decode = decoded
    facts.nodes = ([head_facts] if head_facts else []) + found
    for item in facts.nodes:
        (item.probe or {}).pop("credential", None)  # credentials stay out of reports and bundles
    return facts
