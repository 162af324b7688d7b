"""The Slurm config renderer: golden files per case, settings that depend on the inputs, purity, and a Slurm parse.

Golden cases live in tests/golden/slurm/<case>/: `input.yaml` is a cluster config and `expected/` holds every file
render() returns, by relative path. To accept a deliberate change of the output, run the tests with UPDATE_GOLDEN=1:

    UPDATE_GOLDEN=1 PYTHONPATH=src python3 -m pytest -q tests/unit/slurm/test_render.py

which rewrites each case's expected/ directory; review the diff before committing it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support import MINIMAL_CLUSTER
from paracluster.catalog import default_catalog
from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.slurm.hostlist import expand_hostlist
from paracluster.slurm.nodes import node_names
from paracluster.slurm.render import PowerSaving, RenderInput, render

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "slurm"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "input.yaml").is_file())
SLURMD = "/usr/sbin/slurmd"


def load(text: str):
    loaded = load_config_text(CLUSTER, text)
    assert loaded.config is not None, [str(problem) for problem in loaded.problems]
    return loaded.config


def aws_input(config) -> RenderInput:
    """ParallelCluster's layout on AWS."""
    scripts = "/opt/parallelcluster/scripts/slurm"
    return RenderInput(
        cluster_name="golden",
        head_hostname="ip-10-0-0-10",
        head_address="10.0.0.10",
        config=config,
        catalog=default_catalog(),
        conf_dir="/opt/slurm/etc",
        state_save_location="/var/spool/slurm.state",
        slurmd_spool_dir="/var/spool/slurmd",
        log_dir="/var/log/slurm",
        run_dir="/run/slurm",
        resume_program=f"{scripts}/slurm_resume",
        suspend_program=f"{scripts}/slurm_suspend",
        resume_fail_program=f"{scripts}/slurm_suspend",
        prolog_slurmctld=None,
        power=PowerSaving.parallelcluster(config),
        local_host=False,
    )


def local_input(config) -> RenderInput:
    """The one-machine provider's layout, with the timers of the local probe."""
    return dataclasses.replace(
        aws_input(config),
        head_hostname="head",
        head_address="10.77.0.10",
        conf_dir="/etc/slurm",
        state_save_location="/var/lib/slurm/slurmctld",
        slurmd_spool_dir="/var/lib/slurm/slurmd",
        resume_program="/shared/bin/resume",
        suspend_program="/shared/bin/suspend",
        resume_fail_program="/shared/bin/suspend",
        prolog_slurmctld="/shared/bin/prolog-slurmctld",
        power=PowerSaving(10, 2, 60, power_save_interval=1, power_save_min_interval=0),
        local_host=True,
    )


# Cases not listed here render with aws_input.
CASE_INPUTS = {"minimal-local": local_input}


def render_case(case: str) -> dict[str, str]:
    config = load((GOLDEN / case / "input.yaml").read_text())
    return render(CASE_INPUTS.get(case, aws_input)(config))


def expected_files(directory: Path) -> dict[str, str]:
    return {
        path.relative_to(directory).as_posix(): path.read_text()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    files = render_case(case)
    expected_dir = GOLDEN / case / "expected"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        shutil.rmtree(expected_dir, ignore_errors=True)
        for relative, text in files.items():
            (expected_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / relative).write_text(text)
    expected = expected_files(expected_dir)
    assert sorted(files) == sorted(expected), "the set of rendered files changed (UPDATE_GOLDEN=1 rewrites)"
    for relative in expected:
        assert files[relative] == expected[relative], f"{case}/{relative} differs (UPDATE_GOLDEN=1 rewrites)"


def test_golden_cases_cover_the_brief():
    assert {"minimal", "minimal-local", "multi-queue", "gpu", "accounting"} <= set(CASES)


def setting(text: str, key: str) -> str | None:
    values = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]
    assert len(values) <= 1, f"{key} is set {len(values)} times"
    return values[0] if values else None


@pytest.mark.parametrize("case", CASES)
def test_rendered_nodes_are_exactly_the_planned_nodes(case):
    config = load((GOLDEN / case / "input.yaml").read_text())
    files = render(CASE_INPUTS.get(case, aws_input)(config))
    declared = []
    for relative, text in files.items():
        if relative.endswith("_partition.conf"):
            for line in text.splitlines():
                if line.startswith("NodeName="):
                    declared += expand_hostlist(line.split()[0].removeprefix("NodeName="))
    assert sorted(declared) == sorted(node_names(config))
    exclusions = setting(files["slurm_parallelcluster.conf"], "SuspendExcNodes")
    static = expand_hostlist(exclusions or "")
    assert sorted(static) == sorted(name for name in node_names(config) if "-st-" in name)
    mapping = json.loads(files["pcluster/parallelcluster_partition_nodelist_mapping.json"])
    assert [queue.name for queue in config.scheduling.slurm_queues] == list(mapping)
    assert sorted(n for nodelist in mapping.values() for n in expand_hostlist(nodelist)) == sorted(declared)


def test_local_host_settings():
    files = render(local_input(load(MINIMAL_CLUSTER)))
    conf, cluster = files["slurm.conf"], files["slurm_parallelcluster.conf"]
    assert setting(conf, "SlurmdParameters") == "config_overrides"
    assert setting(conf, "ProctrackType") == "proctrack/linuxproc"
    assert setting(conf, "TaskPlugin") == "task/none"
    assert setting(conf, "CommunicationParameters") == "NoAddrCache"
    assert setting(conf, "ReturnToService") == "2"
    assert setting(conf, "RebootProgram") is None
    assert setting(conf, "PrologSlurmctld") == "/shared/bin/prolog-slurmctld"
    assert setting(cluster, "SlurmctldParameters") == (
        "idle_on_node_suspend,cloud_dns,power_save_interval=1,power_save_min_interval=0,node_reg_mem_percent=75"
    )
    assert conf.rstrip().splitlines()[-2:] == [
        "include /etc/slurm/slurm_parallelcluster.conf",
        "include /etc/slurm/pcluster/custom_slurm_settings_include_file_slurm.conf",
    ]


def test_aws_settings_are_parallelclusters():
    files = render(aws_input(load(MINIMAL_CLUSTER)))
    conf, cluster = files["slurm.conf"], files["slurm_parallelcluster.conf"]
    assert setting(conf, "SlurmdParameters") is None
    assert setting(conf, "ProctrackType") == "proctrack/cgroup"
    assert setting(conf, "TaskPlugin") == "task/affinity,task/cgroup"
    assert setting(conf, "ReturnToService") == "1"
    assert setting(conf, "CommunicationParameters") is None
    assert setting(cluster, "SlurmctldParameters") == (
        "idle_on_node_suspend,power_save_min_interval=30,node_reg_mem_percent=75"
    )
    assert setting(cluster, "SuspendTime") == "600"
    assert setting(cluster, "ResumeTimeout") == "2100"  # ComputeNodeBootstrapTimeout, 2100 s since 3.13
    assert setting(cluster, "SuspendTimeout") == "120"
    assert setting(cluster, "SuspendExcNodes") is None  # no static nodes
    assert setting(cluster, "AccountingStorageType") == "accounting_storage/none"


def test_head_without_address_is_named_alone():
    inp = dataclasses.replace(aws_input(load(MINIMAL_CLUSTER)), head_address="")
    assert setting(render(inp)["slurm_parallelcluster.conf"], "SlurmctldHost") == "ip-10-0-0-10"


EXTERNAL_DBD = MINIMAL_CLUSTER.replace(
    "  SlurmQueues:",
    "  SlurmSettings:\n    ExternalSlurmdbd:\n      Host: dbd.example.com\n      Port: 7031\n  SlurmQueues:",
)


@pytest.mark.parametrize("local_host, gather", [(False, "jobacct_gather/cgroup"), (True, "jobacct_gather/linux")])
def test_external_slurmdbd_accounting(local_host, gather):
    config = load(EXTERNAL_DBD)
    inp = dataclasses.replace(aws_input(config), local_host=local_host)
    cluster = render(inp)["slurm_parallelcluster.conf"]
    assert setting(cluster, "AccountingStorageType") == "accounting_storage/slurmdbd"
    assert setting(cluster, "AccountingStorageHost") == "dbd.example.com"
    assert setting(cluster, "AccountingStoragePort") == "7031"
    assert setting(cluster, "JobAcctGatherType") == gather


def with_cluster_settings(yaml_block: str) -> str:
    return MINIMAL_CLUSTER.replace("  SlurmQueues:", f"  SlurmSettings:\n{yaml_block}  SlurmQueues:")


def test_custom_settings_lines_put_the_primary_key_first_case_insensitively():
    text = with_cluster_settings(
        "    CustomSlurmSettings:\n"
        "      - Nodes: a-[1-2]\n        partitionname: p\n"
        "      - Feature: x\n        NodeSet: ns\n"
        "      - Reason: maintenance\n        DownNodes: a-3\n"
        "      - {}\n"
        "      - SchedulerParameters: bf_continue,max_rpc_cnt=100\n"
    )
    lines = render(aws_input(load(text)))["pcluster/custom_slurm_settings_include_file_slurm.conf"].splitlines()
    assert [line for line in lines if not line.startswith("#")] == [
        "partitionname=p Nodes=a-[1-2]",
        "NodeSet=ns Feature=x",
        "DownNodes=a-3 Reason=maintenance",
        "SchedulerParameters=bf_continue,max_rpc_cnt=100",
    ]


def test_include_file_url_leaves_a_placeholder_for_the_caller():
    text = with_cluster_settings("    CustomSlurmSettingsIncludeFile: https://example.com/extra.conf\n")
    include = render(aws_input(load(text)))["pcluster/custom_slurm_settings_include_file_slurm.conf"]
    assert all(line.startswith("#") for line in include.splitlines())
    assert "https://example.com/extra.conf" in include


GPU_CLUSTER = MINIMAL_CLUSTER.replace("InstanceType: c5.xlarge\n      Net", "InstanceType: g5.xlarge\n      Net")


@pytest.mark.parametrize(
    "local_host, gpu_gres, expect_gres",
    [(False, None, True), (True, None, False), (True, True, True), (False, False, False)],
)
def test_gres_follows_gpu_gres_and_defaults_off_on_the_local_host(local_host, gpu_gres, expect_gres):
    inp = dataclasses.replace(aws_input(load(GPU_CLUSTER)), local_host=local_host, gpu_gres=gpu_gres)
    files = render(inp)
    partition = files["pcluster/slurm_parallelcluster_queue1_partition.conf"]
    gres_lines = [line for line in files["slurm_parallelcluster_gres.conf"].splitlines() if line[:1] != "#"]
    # The gpu feature stays either way, as ParallelCluster keeps it without a driver.
    assert "Feature=dynamic,g5.xlarge,cr1,gpu" in partition
    assert ("Gres=gpu:a10g:1" in partition) is expect_gres
    expected = ["NodeName=queue1-dy-cr1-[1-10] Name=gpu Type=a10g File=/dev/nvidia[0-0]"] if expect_gres else []
    assert gres_lines == expected


def test_render_rejects_awsbatch():
    text = """\
Image:
  Os: alinux2
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-12345678
Scheduling:
  Scheduler: awsbatch
  AwsBatchQueues:
    - Name: q
      ComputeResources:
        - Name: cr
          InstanceTypes: [optimal]
      Networking:
        SubnetIds: [subnet-12345678]
"""
    loaded = load_config_text(CLUSTER, text)
    if loaded.config is None:
        pytest.skip("this config version does not load awsbatch")
    with pytest.raises(ValueError, match="not slurm"):
        render(aws_input(loaded.config))


def test_render_is_pure(monkeypatch):
    """No file, socket, process or host name lookup: the same input gives the same files."""
    config = load((GOLDEN / "multi-queue" / "input.yaml").read_text())
    inp = aws_input(config)
    default_catalog().get("c5.xlarge")  # the catalog itself may read its data file once, before the guard

    def forbidden(*args, **kwargs):
        raise AssertionError("the renderer must do no I/O")

    import builtins
    import socket

    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(socket, "gethostname", forbidden)
    monkeypatch.setattr(socket, "getaddrinfo", forbidden)
    monkeypatch.setattr(subprocess, "run", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    assert render(inp) == render(inp)


@pytest.mark.skipif(not os.access(SLURMD, os.X_OK), reason="Slurm's slurmd is not installed")
@pytest.mark.parametrize("case", CASES)
def test_slurmd_parses_rendered_config(case, tmp_path):
    """Slurm itself reads every rendered file: `slurmd -G` parses slurm.conf, its includes and gres.conf, then exits.

    Rendered for the local host, where GPUs have no Gres: slurmd would look for /dev/nvidia* devices otherwise.
    """
    config = load((GOLDEN / case / "input.yaml").read_text())
    directories = {name: tmp_path / name for name in ("state", "spool", "log", "run")}
    for directory in directories.values():
        directory.mkdir()
    inp = dataclasses.replace(
        local_input(config),
        conf_dir=str(tmp_path),
        state_save_location=str(directories["state"]),
        slurmd_spool_dir=str(directories["spool"]),
        log_dir=str(directories["log"]),
        run_dir=str(directories["run"]),
    )
    for relative, text in render(inp).items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    node = node_names(config)[0]
    result = subprocess.run(
        [SLURMD, "-G", "-f", str(tmp_path / "slurm.conf"), "-N", node],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr


def test_compute_resource_features_join_parallelclusters_own():
    text = MINIMAL_CLUSTER.replace("          InstanceType: c5.xlarge\n",
                                   "          InstanceType: c5.xlarge\n          CustomSlurmSettings:\n"
                                   "            Features: bigmem,fast\n            Weight: 7\n")
    files = render(aws_input(load(text)))
    node_lines = [line for text in files.values() for line in text.splitlines() if line.startswith("NodeName=q")]
    assert node_lines and all(" Feature=dynamic,c5.xlarge,cr1,bigmem,fast " in line + " " for line in node_lines)
    assert all("Features=" not in line for line in node_lines)
