"""`configure` against ParallelCluster's configure test data: the answers that made each of its configs make ours.

Each case's answers are read back from ParallelCluster's expected config, given to `paracluster configure` on standard
input, and the written config must equal the expected one, but for the OS: ParallelCluster 3.16 no longer offers the
alinux2 of that data, so the answer is alinux2023. Cases left out, and why, are in LEFT_OUT.
"""

from __future__ import annotations

import io
import sys

import pytest
import yaml

from support import CORPUS
from paracluster.cli import main

DATA = CORPUS / "pcluster/cli/tests/pcluster/cli/configure/test_pcluster_configure"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="the shared ParallelCluster corpus is not present")

LEFT_OUT = {
    "test_efa_not_supported": "its test pretends c5n.18xlarge has no EFA, which the catalog says it has",
    "test_no_automation_yes_awsbatch_no_errors": "ParallelCluster 3.16 removed AWS Batch: Scheduler offers slurm only",
    "test_subnet_automation_no_awsbatch_no_errors": "creates subnets in an AWS VPC; the local provider has no VPCs",
    "test_subnet_automation_no_awsbatch_no_errors_empty_vpc": "as test_subnet_automation_no_awsbatch_no_errors",
    "test_subnet_automation_yes_awsbatch_invalid_vpc": "as test_subnet_automation_no_awsbatch_no_errors",
    "test_vpc_automation_no_awsbatch_no_errors": "creates an AWS VPC; the local provider has no VPCs",
    "test_vpc_automation_no_vpc_in_region": "as test_vpc_automation_no_awsbatch_no_errors",
    "test_vpc_automation_no_vpc_in_region_public": "as test_vpc_automation_no_awsbatch_no_errors",
    "test_vpc_automation_yes_awsbatch_no_errors": "as test_vpc_automation_no_awsbatch_no_errors",
}
CASES = sorted(path.name for path in DATA.iterdir() if path.name not in LEFT_OUT) if DATA.exists() else []


def answers_for(config: dict) -> list[str]:
    """The answers, in question order, that describe `config` (region given with --region)."""
    head = config["HeadNode"]
    queues = config["Scheduling"]["SlurmQueues"]
    answers = [head["Ssh"]["KeyName"], "slurm", "alinux2023", head["InstanceType"], str(len(queues))]
    for queue in queues:
        answers += [queue["Name"], str(len(queue["ComputeResources"]))]
        for resource in queue["ComputeResources"]:
            answers.append(resource["Instances"][0]["InstanceType"])
            if "Efa" in resource:
                answers.append("y" if resource["Efa"]["Enabled"] else "n")
            answers.append(str(resource["MaxCount"]))
        group = queue["Networking"].get("PlacementGroup")
        if group:
            answers.append(group.get("Id", ""))
    compute_subnets = {queue["Networking"]["SubnetIds"][0] for queue in queues}
    return answers + [head["Networking"]["SubnetId"], compute_subnets.pop()]


@pytest.mark.parametrize("case", CASES)
def test_same_config_from_the_same_answers(case, tmp_path, capsys, monkeypatch):
    from paracluster.providers.local.standins import keypairs

    expected = yaml.safe_load((DATA / case / "pcluster.config.yaml").read_text())
    keypairs.create(tmp_path / "state", expected["HeadNode"]["Ssh"]["KeyName"])
    monkeypatch.setenv("PARACLUSTER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{a}\n" for a in answers_for(expected))))
    out_file = tmp_path / "cluster.yaml"
    with pytest.raises(SystemExit) as exit_info:
        main(["configure", "-c", str(out_file), "--region", expected["Region"]])
    out = capsys.readouterr().out
    assert yaml.safe_load(out_file.read_text()) == {**expected, "Image": {"Os": "alinux2023"}}
    errors = [line for line in out.splitlines() if line.startswith("ERROR: HeadNode")]
    if expected["HeadNode"]["InstanceType"] == "t3.nano":
        # ParallelCluster 3.13's HeadNodeMemorySizeValidator: 0.5 GiB cannot manage 10 compute nodes.
        assert exit_info.value.code == 1 and len(errors) == 1 and "t3.nano has 0.5 GiB of memory" in errors[0]
    else:
        assert exit_info.value.code == 0, out


def test_every_case_is_compared_or_left_out_with_a_reason():
    assert {path.name for path in DATA.iterdir()} == set(CASES) | set(LEFT_OUT)
    assert len(CASES) >= 7
