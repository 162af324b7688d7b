"""Parsing recorded `scontrol show nodes -o` and `scontrol show partitions -o` output of Slurm 22.05."""

from __future__ import annotations

import pytest

from paracluster.daemon.observe import (
    Observation,
    SlurmNode,
    parse_scontrol_nodes,
    parse_scontrol_partitions,
)

# Recorded lines (one per node, as `-o` prints them). The powered-down node never registered, so it has no
# Version/OS; the online one has an OS value with spaces; the failed one has a reason with spaces and a stamp.
POWERED_DOWN = (
    "NodeName=q1-dy-cr1-1 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUEfctv=4 CPUTot=4 CPULoad=0.00 "
    "AvailableFeatures=dynamic,c5.xlarge,cr1 ActiveFeatures=dynamic,c5.xlarge,cr1 Gres=(null) "
    "NodeAddr=q1-dy-cr1-1 NodeHostName=q1-dy-cr1-1 RealMemory=7782 AllocMem=0 FreeMem=N/A Sockets=4 Boards=1 "
    "State=IDLE+CLOUD+POWERED_DOWN ThreadsPerCore=1 TmpDisk=0 Weight=1000 Owner=N/A MCS_label=N/A Partitions=q1 "
    "BootTime=None SlurmdStartTime=None LastBusyTime=2026-11-23T19:41:07 ResumeAfterTime=None "
    "CfgTRES=cpu=4,mem=7782M,billing=4 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s "
    "ExtSensorsWatts=0 ExtSensorsTemp=n/s"
)
ONLINE_STATIC = (
    "NodeName=q1-st-cr1-1 Arch=x86_64 CoresPerSocket=1 CPUAlloc=2 CPUEfctv=4 CPUTot=4 CPULoad=1.02 "
    "AvailableFeatures=static,c5.xlarge,cr1 ActiveFeatures=static,c5.xlarge,cr1 Gres=(null) "
    "NodeAddr=q1-st-cr1-1 NodeHostName=q1-st-cr1-1 Version=22.05.8 "
    "OS=Linux 6.1.0-18-cloud-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)  "
    "RealMemory=7782 AllocMem=2048 FreeMem=6912 Sockets=4 Boards=1 State=MIXED+CLOUD ThreadsPerCore=1 TmpDisk=0 "
    "Weight=1 Owner=N/A MCS_label=N/A Partitions=q1,all BootTime=2026-11-23T19:30:12 "
    "SlurmdStartTime=2026-11-23T19:30:15 LastBusyTime=2026-11-23T20:01:44 ResumeAfterTime=None "
    "CfgTRES=cpu=4,mem=7782M,billing=4 AllocTRES=cpu=2,mem=2G CapWatts=n/a CurrentWatts=0 AveWatts=0 "
    "ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s"
)
ICE = (
    "NodeName=q1-dy-cr1-2 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUEfctv=4 CPUTot=4 CPULoad=0.00 "
    "AvailableFeatures=dynamic,c5.xlarge,cr1 ActiveFeatures=dynamic,c5.xlarge,cr1 Gres=(null) "
    "NodeAddr=q1-dy-cr1-2 NodeHostName=q1-dy-cr1-2 RealMemory=7782 AllocMem=0 FreeMem=N/A Sockets=4 Boards=1 "
    "State=DOWN+CLOUD+POWERED_DOWN ThreadsPerCore=1 TmpDisk=0 Weight=1000 Owner=N/A MCS_label=N/A Partitions=q1 "
    "BootTime=None SlurmdStartTime=None LastBusyTime=2026-11-23T19:59:58 ResumeAfterTime=None "
    "CfgTRES=cpu=4,mem=7782M,billing=4 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s "
    "ExtSensorsWatts=0 ExtSensorsTemp=n/s "
    "Reason=(Code:InsufficientInstanceCapacity)Failure when resuming nodes [root@2026-11-23T20:00:00]"
)
DRAINED_WITH_COMMENT = (
    "NodeName=gpu-dy-g5-10 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUEfctv=4 CPUTot=4 CPULoad=0.00 "
    "AvailableFeatures=dynamic,g5.xlarge,g5,gpu ActiveFeatures=dynamic,g5.xlarge,g5,gpu Gres=gpu:a10g:1 "
    "NodeAddr=gpu-dy-g5-10 NodeHostName=gpu-dy-g5-10 Version=22.05.8 OS=Linux 6.1.0-18-cloud-amd64 #1 SMP "
    "RealMemory=15564 AllocMem=0 FreeMem=15000 Sockets=4 Boards=1 State=IDLE+DRAIN+CLOUD ThreadsPerCore=1 "
    "TmpDisk=0 Weight=1000 Owner=N/A MCS_label=N/A Partitions=gpu BootTime=2026-11-23T19:50:00 "
    "SlurmdStartTime=2026-11-23T19:50:02 LastBusyTime=2026-11-23T19:55:00 ResumeAfterTime=None "
    "CfgTRES=cpu=4,mem=15564M,billing=4,gres/gpu=1 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 "
    "ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s "
    "Reason=Kill task failed [slurm@2026-11-23T19:56:10] Comment=checked by ops Extra=rack=7"
)


def test_parse_powered_down_dynamic_node():
    [node] = parse_scontrol_nodes(POWERED_DOWN + "\n")
    assert node == SlurmNode(name="q1-dy-cr1-1", state="IDLE+CLOUD+POWERED_DOWN",
                             states=("IDLE", "CLOUD", "POWERED_DOWN"), node_addr="q1-dy-cr1-1", reason="",
                             partitions=("q1",))
    assert node.is_dynamic and not node.is_static
    assert (node.queue, node.compute_resource) == ("q1", "cr1")
    assert node.is_powered_down and not node.is_down and not node.is_online


def test_parse_online_static_node_whose_os_has_spaces():
    [node] = parse_scontrol_nodes(ONLINE_STATIC)
    assert node.state == "MIXED+CLOUD"
    assert node.partitions == ("q1", "all")
    assert node.node_addr == "q1-st-cr1-1"
    assert node.is_static and node.is_online and not node.is_drained


def test_reason_keeps_its_spaces_without_the_user_stamp():
    [node] = parse_scontrol_nodes(ICE)
    assert node.reason == "(Code:InsufficientInstanceCapacity)Failure when resuming nodes"
    assert node.is_down and node.is_powered_down


def test_fields_after_the_reason_are_not_part_of_it():
    [node] = parse_scontrol_nodes(DRAINED_WITH_COMMENT)
    assert node.reason == "Kill task failed"
    assert (node.queue, node.compute_resource) == ("gpu", "g5")
    assert node.is_drained and not node.is_down


def test_several_nodes_and_noise():
    text = "\n".join([POWERED_DOWN, "", ONLINE_STATIC, ICE]) + "\n"
    assert [n.name for n in parse_scontrol_nodes(text)] == ["q1-dy-cr1-1", "q1-st-cr1-1", "q1-dy-cr1-2"]
    assert parse_scontrol_nodes("No nodes in the system\n") == []


def _node(state: str, name: str = "q1-dy-cr1-1") -> SlurmNode:
    return parse_scontrol_nodes(f"NodeName={name} NodeAddr={name} State={state} Partitions=q1")[0]


@pytest.mark.parametrize("state, down, drained, online, powered_down, powering_down, powering_up", [
    ("IDLE+CLOUD", False, False, True, False, False, False),
    ("MIXED+CLOUD", False, False, True, False, False, False),
    ("ALLOCATED+CLOUD", False, False, True, False, False, False),
    ("COMPLETING+CLOUD", False, False, True, False, False, False),
    ("IDLE+CLOUD+POWERED_DOWN", False, False, False, True, False, False),
    ("IDLE+CLOUD+POWERING_DOWN", False, False, False, False, True, False),
    ("ALLOCATED+CLOUD+POWERING_UP", False, False, False, False, False, True),
    ("DOWN+CLOUD+NOT_RESPONDING", True, False, False, False, False, False),
    ("DOWN+CLOUD+POWERED_DOWN+NOT_RESPONDING", True, False, False, True, False, False),
    # DOWN on its way to power saving is not down.
    ("DOWN+CLOUD+POWERING_DOWN", False, False, False, False, True, False),
    ("DOWN+CLOUD+POWER_DOWN", False, False, False, False, False, False),
    ("DOWN+CLOUD+POWERED_DOWN+POWER_DOWN", True, False, False, True, False, False),
    # DRAIN with jobs is draining, not drained; DRAIN while COMPLETING is not drained either.
    ("IDLE+DRAIN+CLOUD", False, True, False, False, False, False),
    ("DOWN+DRAIN+CLOUD", True, True, False, False, False, False),
    ("MIXED+DRAIN+CLOUD", False, False, False, False, False, False),
    ("IDLE+COMPLETING+DRAIN+CLOUD", False, False, False, False, False, False),
    ("IDLE+CLOUD+NOT_RESPONDING", False, False, False, False, False, False),
    ("IDLE+CLOUD+INVALID_REG", False, False, False, False, False, False),
])
def test_state_predicates(state, down, drained, online, powered_down, powering_down, powering_up):
    node = _node(state)
    assert node.states == tuple(state.split("+"))
    assert (node.is_down, node.is_drained, node.is_online) == (down, drained, online)
    assert (node.is_powered_down, node.is_powering_down, node.is_powering_up) == (
        powered_down, powering_down, powering_up)


@pytest.mark.parametrize("state, states", [
    ("IDLE#", ("IDLE", "POWERING_UP")),
    ("idle~", ("IDLE", "POWERED_DOWN")),
    ("DOWN*", ("DOWN", "NOT_RESPONDING")),
    ("IDLE%", ("IDLE", "POWERING_DOWN")),
    ("IDLE!", ("IDLE", "POWER_DOWN")),
])
def test_sinfo_style_suffixes_become_flags(state, states):
    node = _node(state)
    assert node.state == state
    assert node.states == states


@pytest.mark.parametrize("name, static, dynamic, queue, resource", [
    ("q1-st-cr1-1", True, False, "q1", "cr1"),
    ("q1-dy-cr1-10", False, True, "q1", "cr1"),
    ("my-queue-dy-c5-large-3", False, True, "my-queue", "c5-large"),
    ("compute1", False, False, None, None),
])
def test_node_name_parts(name, static, dynamic, queue, resource):
    node = _node("IDLE+CLOUD", name)
    assert (node.is_static, node.is_dynamic, node.queue, node.compute_resource) == (static, dynamic, queue,
                                                                                    resource)


def test_parse_partitions():
    text = (
        "PartitionName=q1 AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES QoS=N/A "
        "DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED "
        "MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED NodeSets=q1_nodes "
        "Nodes=q1-dy-cr1-[1-3],q1-st-cr1-1 PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO "
        "OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=16 TotalNodes=4 "
        "SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED "
        "TRES=cpu=16,mem=31128M,node=4,billing=16\n"
        "PartitionName=q2 AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=NO QoS=N/A "
        "DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED "
        "MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=(null) PriorityJobFactor=1 "
        "PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=INACTIVE "
        "TotalCPUs=0 TotalNodes=0 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED "
        "MaxMemPerNode=UNLIMITED\n"
    )
    q1, q2 = parse_scontrol_partitions(text)
    assert (q1.name, q1.state, q1.is_inactive) == ("q1", "UP", False)
    assert q1.nodes == ("q1-dy-cr1-1", "q1-dy-cr1-2", "q1-dy-cr1-3", "q1-st-cr1-1")
    assert (q2.name, q2.state, q2.nodes, q2.is_inactive) == ("q2", "INACTIVE", (), True)


def test_observation_defaults():
    obs = Observation(time=100.0)
    assert (obs.nodes, obs.partitions, obs.instances) == ((), (), ())
    assert obs.fleet_status == "RUNNING" and obs.running_jobs_by_partition == {}
