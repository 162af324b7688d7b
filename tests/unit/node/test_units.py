"""The node's systemd units rendered from real specs of the plan, compared with golden files.

To accept a deliberate change: UPDATE_GOLDEN=1 PYTHONPATH=src python3 -m pytest -q tests/unit/node/test_units.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.node.units import ALIASES, BOOTSTRAP_UNIT, MASKED, service_unit, system_files, unit_name
from paracluster.plan import build_plan
from paracluster.plan.spec import Account, ClusterFacts, NodeKeys, node_spec
from support import PROJECT

GOLDEN = PROJECT / "tests" / "golden" / "units"
FACTS = ClusterFacts(name="demo", region="us-east-1", stack_arn="arn:test", head_name="head",
                     head_address="10.0.0.2", default_user=Account("ec2-user", 1000, 1000),
                     rest_user=Account("slurmrestd", 64200, 64200), slurmrestd=True, node_python="/usr/bin/python3",
                     node_pythonpath="/opt/paracluster/lib/node")


def _specs() -> dict[str, dict]:
    """A spec per role: the head node with accounting (examples/accounting.yaml), the others of the research one."""
    specs = {}
    for example in ("accounting.yaml", "research.yaml"):
        loaded = load_config_text(CLUSTER, (PROJECT / "examples" / example).read_text())
        assert loaded.config is not None, loaded.problems
        plan = build_plan("demo", loaded.config)
        for node in plan.nodes:
            role = node.node_type if node.node_type != "ComputeNode" else ("static" if node.static else "dynamic")
            specs.setdefault(role, node_spec(plan.config, plan.catalog, FACTS, node, "10.0.0.9",
                                             NodeKeys("key", b"jwt")))
    return specs


def _rendered(spec: dict) -> str:
    files, links = system_files(spec, "/usr/bin/python3", "/opt/paracluster/lib/node")
    units = sorted(path for path in files if path.startswith("/etc/systemd/system/"))
    text = [f"# {path}\n{files[path]}" for path in units]
    text += [f"# {path} -> {target}" for path, target in sorted(links.items())
             if "/dev/null" not in target]  # the masks are checked below, not kept in the golden files
    return "\n".join(text) + "\n"


@pytest.mark.parametrize("role", ["HeadNode", "LoginNode", "static", "dynamic"])
def test_units_match_golden(role):
    spec = _specs().get(role)
    if spec is None:
        pytest.fail(f"examples/accounting.yaml has no {role} node")
    path = GOLDEN / f"{role}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(_rendered(spec))
    assert _rendered(spec) == path.read_text(), f"{path} differs; see the module docstring to accept a change"


def test_every_service_has_parallelclusters_unit_name_and_the_bootstrap_is_wanted():
    head = _specs()["HeadNode"]
    files, links = system_files(head, "/usr/bin/python3", "/x")
    names = {unit_name(service["name"]) for service in head["services"]}
    assert {"munge.service", "slurmctld.service", "slurmdbd.service", "slurmrestd.service", "sshd.service"} <= names
    assert links["/etc/systemd/system/ssh.service"] == "sshd.service" and ALIASES["sshd.service"]
    assert links[f"/etc/systemd/system/multi-user.target.wants/{BOOTSTRAP_UNIT}"].endswith(BOOTSTRAP_UNIT)
    assert all(links[f"/etc/systemd/system/{unit}"] == "/dev/null" for unit in MASKED)
    assert not any(unit in names for unit in MASKED)


def test_exec_lines_quote_what_systemd_would_expand():
    unit = service_unit({"name": "odd", "argv": ["/bin/sh", "-c", "echo $HOME 100% done"], "oneshot": True})
    assert "ExecStart=/bin/sh -c 'echo $$HOME 100%% done'" in unit
    assert "Type=oneshot" in unit and "StandardOutput=append:/run/paracluster/node/logs/odd.log" in unit
