"""The checks of `paracluster diagnose`, pure: each judges gathered facts (diagnose.facts) and says why in words.

A check passes, fails, or is skipped (its subject is not configured, or its node could not be asked). Thresholds
are arguments with defaults, so a test can make any check fail on captured outputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from paracluster.diagnose.facts import ClusterFacts, NodeFacts

PASSED, FAILED, SKIPPED = "PASSED", "FAILED", "SKIPPED"
HEARTBEAT_LOOPS = 10  # the cluster manager is late once its heartbeat is this many loops old ...
HEARTBEAT_FLOOR = 30.0  # ... and at least this many seconds
COMPLETING_LIMIT = 120.0  # seconds a job may stay COMPLETING (Slurm's UnkillableStepTimeout is 60 s)


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    message: str
    node: str | None = None


def _node_check(name: str, node: NodeFacts, failures: list[str], passed: str) -> Check:
    if failures:
        return Check(name, FAILED, "; ".join(failures), node.name)
    return Check(name, PASSED, passed, node.name)


def probe_ran(node: NodeFacts) -> Check:
    if node.probe is None:
        return Check("node", FAILED, f"could not run the checks on {node.name}: {node.error or 'no answer'}",
                     node.name)
    return Check("node", PASSED, f"{node.name} ({node.node_type}, {node.instance_id}) answered", node.name)


def daemons(node: NodeFacts) -> Check:
    """Every daemon of the node's role runs; with systemd as PID 1, no unit failed either."""
    counts = node.probe.get("daemons", {})
    failures = [f"{name} is not running on {node.name}" for name in node.daemons if not counts.get(name)]
    init = node.probe.get("init") or {}
    if init.get("pid1") == "systemd":
        failures += [f"unit {unit} failed on {node.name}" for unit in init.get("failed_units", [])]
        if init.get("state") not in ("running", None):
            failures.append(f"systemd on {node.name} is {init.get('state')}")
    return _node_check("daemons", node, failures, f"{', '.join(node.daemons) or 'no daemons'} running")


def munge(node: NodeFacts, head: str | None) -> Check:
    """Credentials made here decode here and on the head node, and the head node's decode here."""
    failures = []
    local = node.probe.get("munge_local") or {"ok": False, "detail": "not checked"}
    if not local["ok"]:
        failures.append(f"munge credentials do not decode on {node.name} itself: {local['detail']}")
    if head and node.name != head:
        decoded = (node.probe.get("decodes") or [{"ok": False, "detail": "no credential of the head node"}])[0]
        if not decoded["ok"]:
            failures.append(f"a credential of {head} does not decode on {node.name}: {decoded['detail']}")
        if node.head_decode is not None and not node.head_decode["ok"]:
            failures.append(f"a credential of {node.name} does not decode on {head}: {node.head_decode['detail']}")
    return _node_check("munge", node, failures, "credentials decode" + (" across nodes" if head else ""))


def slurmctld(node: NodeFacts) -> Check:
    ping = node.probe.get("scontrol_ping") or {"ok": False, "detail": "not checked"}
    if "is UP" not in ping["detail"]:
        return Check("slurmctld", FAILED, f"slurmctld is not reachable from {node.name}: {ping['detail']}",
                     node.name)
    return Check("slurmctld", PASSED, "slurmctld answers", node.name)


def clock(node: NodeFacts, tolerance: float = 1.0) -> Check:
    """The node's clock against the host's, read before and after the probe ran."""
    seen = node.probe.get("time")
    before, after = node.host_time_before, node.host_time_after
    if seen is None or before is None or after is None:
        return Check("clock", SKIPPED, "no clock reading", node.name)
    skew = before - seen if seen < before else (seen - after if seen > after else 0.0)
    if skew > tolerance:
        return Check("clock", FAILED, f"the clock of {node.name} is {skew:.1f} s off the host's", node.name)
    return Check("clock", PASSED, f"clock within {tolerance:g} s of the host's", node.name)


def disk(node: NodeFacts, max_used_percent: float = 90.0) -> Check:
    failures, shown = [], []
    for item in node.probe.get("disks", []):
        # As df counts: space reserved for root is neither used nor available.
        room = item["used"] + item["available"]
        used = 100.0 * item["used"] / room if room else 0.0
        shown.append(f"{item['path']} {used:.0f}%")
        if used >= max_used_percent:
            failures.append(f"{item['path']} on {node.name} is {used:.0f}% full ({item['available'] // 2**20} MiB "
                            "available)")
    return _node_check("disk", node, failures, f"space left ({', '.join(shown) or 'nothing to check'} used)")


def memory(node: NodeFacts, min_available_percent: float = 10.0, max_pressure: float = 20.0) -> Check:
    found = node.probe.get("memory", {})
    total, available = found.get("MemTotal"), found.get("MemAvailable")
    if not total or available is None:
        return Check("memory", SKIPPED, "no memory figures", node.name)
    failures = []
    share = 100.0 * available / total
    if share < min_available_percent:
        failures.append(f"only {share:.0f}% of memory is available on {node.name} ({available // 2**20} MiB)")
    pressure = found.get("psi_full_avg10")
    if pressure is not None and pressure >= max_pressure:
        failures.append(f"tasks on {node.name} stalled on memory {pressure:.0f}% of the last 10 s")
    return _node_check("memory", node, failures, f"{share:.0f}% of memory available")


# --- cluster-wide checks, from the head node ---------------------------------------------------------------------


def slurm_nodes(facts: ClusterFacts, head: dict) -> Check:
    """No Slurm node is DOWN, DRAINED or FAILED; each such node is listed with Slurm's reason and its last bootstrap
    error."""
    sinfo = head.get("sinfo") or {"ok": False, "detail": "not checked"}
    if not sinfo["ok"]:
        return Check("slurm-nodes", FAILED, f"sinfo failed on the head node: {sinfo['detail']}")
    errors = {failure.node_name: failure for failure in facts.node_failures}
    bootstrap = {node.name: (node.probe or {}).get("bootstrap_error") for node in facts.nodes}
    bad, seen = [], set()
    for line in sinfo["detail"].splitlines():
        parts = line.split("|", 2)
        if len(parts) != 3 or parts[0] in seen:
            continue
        name, state, reason = parts
        seen.add(name)
        if not state.rstrip("~#%!*$@^-+").startswith(("down", "drain", "fail")):
            continue
        words = f"{name} is {state}" + (f" ({reason})" if reason and reason not in ("none", "(null)") else "")
        if name in errors:
            words += f"; last bootstrap error: {errors[name].code}: {errors[name].reason}"
        elif bootstrap.get(name):
            words += f"; bootstrap error: {bootstrap[name].strip()}"
        bad.append(words)
    if bad:
        return Check("slurm-nodes", FAILED, "; ".join(bad))
    return Check("slurm-nodes", PASSED, f"no node down or drained ({len(seen)} nodes)")


def _slurm_time(text: str) -> float | None:
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None  # N/A, Unknown


def stuck_jobs(facts: ClusterFacts, head: dict, completing_limit: float = COMPLETING_LIMIT) -> Check:
    """No job stays CONFIGURING (its nodes booting) past ResumeTimeout, or COMPLETING past `completing_limit`."""
    squeue = head.get("squeue") or {"ok": False, "detail": "not checked"}
    if not squeue["ok"]:
        return Check("stuck-jobs", FAILED, f"squeue failed on the head node: {squeue['detail']}")
    now = head.get("time") or time.time()
    stuck = []
    for line in squeue["detail"].splitlines():
        parts = line.split("|")
        if len(parts) != 5:
            continue
        job, state, start, end, nodes = parts
        since, limit = (_slurm_time(start), facts.resume_timeout) if state.startswith("CONF") else \
            (_slurm_time(end), completing_limit)
        if since is not None and now - since > limit:
            stuck.append(f"job {job} is {state} for {now - since:.0f} s on {nodes or 'no nodes'}")
    if stuck:
        return Check("stuck-jobs", FAILED, "; ".join(stuck))
    return Check("stuck-jobs", PASSED, "no job stuck configuring or completing")


def heartbeat(facts: ClusterFacts, head: dict) -> Check:
    """The cluster manager wrote its heartbeat lately (ParallelCluster's clustermgtd_heartbeat file)."""
    text = (head.get("heartbeat") or "").strip()
    if not text:
        return Check("clustermgtd", FAILED, "the cluster manager has written no heartbeat")
    try:
        from datetime import datetime

        beat = datetime.fromisoformat(text).timestamp()
    except ValueError:
        return Check("clustermgtd", FAILED, f"the cluster manager's heartbeat is unreadable: {text[:80]}")
    age = (head.get("time") or time.time()) - beat
    limit = max(HEARTBEAT_FLOOR, HEARTBEAT_LOOPS * facts.clustermgtd_interval)
    if age > limit:
        return Check("clustermgtd", FAILED, f"the cluster manager's last heartbeat is {age:.0f} s old (limit "
                                            f"{limit:.0f} s)")
    return Check("clustermgtd", PASSED, f"heartbeat {max(age, 0):.0f} s ago")


def accounting(facts: ClusterFacts, head: dict) -> Check:
    if not facts.accounting:
        return Check("accounting", SKIPPED, "the cluster has no accounting database")
    answer = head.get("accounting") or {"ok": False, "detail": "not checked"}
    if not answer["ok"]:
        return Check("accounting", FAILED, f"slurmdbd or its database does not answer: {answer['detail']}")
    return Check("accounting", PASSED, "slurmdbd and its database answer")


def slurmrestd(facts: ClusterFacts, head: dict) -> Check:
    if not facts.slurmrestd_url:
        return Check("slurmrestd", SKIPPED, "the cluster runs no slurmrestd")
    answer = head.get("slurmrestd") or {"ok": False, "detail": "not checked"}
    if not answer["ok"]:
        return Check("slurmrestd", FAILED, f"slurmrestd at {facts.slurmrestd_url} does not answer: "
                                           f"{answer['detail']}")
    return Check("slurmrestd", PASSED, f"slurmrestd answers at {facts.slurmrestd_url} ({answer['detail']})")


def run_checks(facts: ClusterFacts) -> list[Check]:
    """Every check: per node (those that answered), then the cluster's from the head node."""
    results = []
    head = next((node for node in facts.nodes if node.node_type == "HeadNode"), None)
    head_name = head.name if head is not None and head.probe is not None else None
    for node in facts.nodes:
        results.append(probe_ran(node))
        if node.probe is None:
            continue
        results += [daemons(node), munge(node, head_name), slurmctld(node), clock(node), disk(node), memory(node)]
    if head is None or head.probe is None:
        results.append(Check("cluster", FAILED, "the head node could not be asked: no cluster-wide checks"))
        return results
    return results + [slurm_nodes(facts, head.probe), stuck_jobs(facts, head.probe), heartbeat(facts, head.probe),
                      accounting(facts, head.probe), slurmrestd(facts, head.probe)]
