"""The cluster manager's planner on recorded Slurm 22.05 states: each ParallelCluster clustermgtd rule."""

from __future__ import annotations

import copy

import pytest

from paracluster.records import InstanceRecord, format_time
from paracluster.daemon.observe import Observation, parse_scontrol_nodes, parse_scontrol_partitions
from paracluster.daemon.plan import (
    HEALTH_CHECK_REASON,
    ICE_ENABLE_REASON,
    STATIC_REPLACEMENT_REASON,
    STUCK_COMPLETING_REASON,
    LaunchStatic,
    Memory,
    Plan,
    PlanSettings,
    SetFleetStatus,
    SetNodeState,
    SetPartitionState,
    Terminate,
    plan,
)

NOW = 1_795_000_000.0
SETTINGS = PlanSettings(orphan_timeout=300, insufficient_capacity_timeout=600, protected_failure_count=3,
                        node_replacement_timeout=1800)
ICE_REASON = "(Code:InsufficientInstanceCapacity)Failure when resuming nodes"
ICE_DISABLED = "(Code:InsufficientInstanceCapacity)Temporarily disabling node due to insufficient capacity"


def line(name: str, state: str, reason: str | None = None, partitions: str | None = None) -> str:
    """One `scontrol show nodes -o` line as Slurm 22.05 prints it for a ParaCluster node."""
    kind, resource = name.split("-")[1:3]
    features = f"{'static' if kind == 'st' else 'dynamic'},c5.xlarge,{resource}"
    registered = "POWERED_DOWN" not in state and "POWERING_UP" not in state
    text = (
        f"NodeName={name} Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUEfctv=4 CPUTot=4 CPULoad=0.00 "
        f"AvailableFeatures={features} ActiveFeatures={features} Gres=(null) NodeAddr={name} NodeHostName={name} "
        + ("Version=22.05.8 OS=Linux 6.1.0-18-cloud-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)  "
           if registered else "")
        + f"RealMemory=7782 AllocMem=0 FreeMem=N/A Sockets=4 Boards=1 State={state} ThreadsPerCore=1 TmpDisk=0 "
        f"Weight=1000 Owner=N/A MCS_label=N/A Partitions={partitions or name.split('-')[0]} BootTime=None "
        "SlurmdStartTime=None LastBusyTime=2026-11-23T19:41:07 ResumeAfterTime=None "
        "CfgTRES=cpu=4,mem=7782M,billing=4 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 "
        "ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s"
    )
    return text + (f" Reason={reason} [root@2026-11-23T20:00:00]" if reason else "")


def partitions(**states: str) -> list:
    return parse_scontrol_partitions("\n".join(
        f"PartitionName={name} AllowGroups=ALL Default=NO NodeSets={name}_nodes Nodes=(null) State={state}"
        for name, state in states.items()))


def instance(instance_id: str, name: str, age: float | None = 3600, state: str = "running",
             reason: str | None = None) -> InstanceRecord:
    queue, _, resource = name.split("-")[:3]
    return InstanceRecord(instance_id, "ComputeNode", "c5.xlarge", state, "10.0.0.9",
                          None if age is None else format_time(NOW - age), name, queue, resource, reason=reason)


def observe(lines: list[str], instances=(), status="RUNNING", time=NOW, jobs=None, **partition_states) -> Observation:
    return Observation(time=time, nodes=parse_scontrol_nodes("\n".join(lines)),
                       partitions=partitions(**(partition_states or {"q1": "UP"})), instances=list(instances),
                       fleet_status=status, running_jobs_by_partition=jobs or {})


HEALTHY = [
    line("q1-st-cr1-1", "IDLE+CLOUD"),
    line("q1-st-cr1-2", "MIXED+CLOUD"),
    line("q1-dy-cr1-1", "ALLOCATED+CLOUD"),
    line("q1-dy-cr1-2", "IDLE+CLOUD+POWERED_DOWN"),
    line("q1-dy-cr1-3", "ALLOCATED+CLOUD+POWERING_UP"),  # resume in progress: no instance yet
    line("q1-dy-cr1-4", "IDLE+CLOUD+POWER_DOWN"),  # idle, power down requested: instance still up
    line("q1-dy-cr1-5", "IDLE+DRAIN+CLOUD+POWERED_DOWN+POWER_DOWN"),
]
HEALTHY_INSTANCES = [instance("i-1", "q1-st-cr1-1"), instance("i-2", "q1-st-cr1-2"),
                     instance("i-3", "q1-dy-cr1-1"), instance("i-4", "q1-dy-cr1-4"),
                     instance("i-0", "q1-dy-cr1-9", state="terminated")]


@pytest.mark.parametrize("status", ["RUNNING", "PROTECTED", "UNKNOWN"])
def test_a_healthy_cluster_plans_nothing(status):
    obs = observe(HEALTHY, HEALTHY_INSTANCES, status=status)
    assert plan(obs, Memory(), SETTINGS) == Plan(actions=(), memory=Memory())


def test_static_node_replacement_lifecycle():
    lines = [line("q1-st-cr1-1", "DOWN+CLOUD+NOT_RESPONDING", "Not responding"),
             line("q1-st-cr1-2", "IDLE+CLOUD"),  # its instance is gone
             line("q1-st-cr1-3", "IDLE+DRAIN+CLOUD", "Kill task failed"),
             line("q1-st-cr1-4", "MIXED+DRAIN+CLOUD", "maintenance")]  # draining: jobs still run, left alone
    instances = [instance("i-1", "q1-st-cr1-1"), instance("i-3", "q1-st-cr1-3"), instance("i-4", "q1-st-cr1-4")]
    first = plan(observe(lines, instances), Memory(), SETTINGS)
    replaced = ("q1-st-cr1-1", "q1-st-cr1-2", "q1-st-cr1-3")
    assert first.actions == (
        SetNodeState(replaced, "down", STATIC_REPLACEMENT_REASON),
        Terminate(("i-1", "i-3"), "unhealthy static node"),
        LaunchStatic(replaced),
    )
    assert first.memory == Memory(static_in_replacement={name: NOW for name in replaced})

    # The replacements boot: DOWN with fresh instances, within node_replacement_timeout -> nothing to do.
    booting = [line(name, "DOWN+CLOUD", STATIC_REPLACEMENT_REASON) for name in replaced] + lines[3:]
    new = [instance(f"i-n{n}", name, age=10) for n, name in enumerate(replaced)] + [instance("i-4", "q1-st-cr1-4")]
    second = plan(observe(booting, new, time=NOW + 60), first.memory, SETTINGS)
    assert second == Plan(actions=(), memory=first.memory)

    # One came back (it resumed itself), one is still DOWN after the timeout, one lost its new instance.
    later = [line("q1-st-cr1-1", "IDLE+CLOUD"), booting[1], booting[2], lines[3]]
    third = plan(observe(later, new[:2] + new[3:], time=NOW + 1800), second.memory, SETTINGS)
    assert third.actions == (
        SetNodeState(("q1-st-cr1-2", "q1-st-cr1-3"), "down", STATIC_REPLACEMENT_REASON),
        Terminate(("i-n1",), "unhealthy static node"),
        LaunchStatic(("q1-st-cr1-2", "q1-st-cr1-3")),
    )
    assert third.memory.static_in_replacement == {"q1-st-cr1-2": NOW + 1800, "q1-st-cr1-3": NOW + 1800}
    # Two replacements that never came up are bootstrap failures of q1's compute resource cr1.
    assert third.memory.bootstrap_failures == {"q1": {"cr1": 2}}


def test_unhealthy_dynamic_nodes_are_terminated_and_powered_down():
    lines = [line("q1-dy-cr1-1", "DOWN+CLOUD+NOT_RESPONDING", "Not responding"),
             line("q1-dy-cr1-2", "IDLE+CLOUD"),  # up in Slurm, but its instance is gone
             line("q1-dy-cr1-3", "IDLE+DRAIN+CLOUD", "Kill task failed"),
             line("q1-dy-cr1-4", "IDLE+CLOUD+POWERING_DOWN"),  # suspended: its instance must go, no state change
             line("q1-dy-cr1-5", "IDLE+CLOUD+POWERED_DOWN"),
             line("q1-dy-cr1-6", "IDLE+CLOUD+POWERED_DOWN"),
             line("q1-dy-cr1-7", "DOWN+CLOUD+POWERING_DOWN", HEALTH_CHECK_REASON)]  # already handled last loop
    instances = [instance("i-1", "q1-dy-cr1-1"), instance("i-3", "q1-dy-cr1-3"), instance("i-4", "q1-dy-cr1-4"),
                 instance("i-5", "q1-dy-cr1-5"),
                 # launched after Slurm was read: a resume Slurm's view does not show yet, left for next loop
                 instance("i-6", "q1-dy-cr1-6", age=-1)]
    result = plan(observe(lines, instances), Memory(), SETTINGS)
    assert result.actions == (
        Terminate(("i-4", "i-5"), "dynamic node is powering down"),
        Terminate(("i-1", "i-3"), "unhealthy dynamic node"),
        SetNodeState(("q1-dy-cr1-1", "q1-dy-cr1-2", "q1-dy-cr1-3"), "power_down_force", HEALTH_CHECK_REASON),
    )
    # Plain health failures are not bootstrap failures.
    assert result.memory == Memory()


def test_instances_of_powered_down_nodes_allocated_to_a_job_are_kept():
    # The early launch boots a job's nodes before Slurm's power-save thread marks them powering up.
    lines = [line("q1-dy-cr1-1", "ALLOCATED+CLOUD+POWERED_DOWN"), line("q1-dy-cr1-2", "MIXED+CLOUD+POWERED_DOWN"),
             line("q1-dy-cr1-3", "IDLE+CLOUD+POWERED_DOWN")]
    instances = [instance("i-1", "q1-dy-cr1-1"), instance("i-2", "q1-dy-cr1-2"), instance("i-3", "q1-dy-cr1-3")]
    assert plan(observe(lines, instances), Memory(), SETTINGS).actions == (
        Terminate(("i-3",), "dynamic node is powering down"),)


def test_dynamic_nodes_left_completing_with_no_job_are_powered_down_after_the_timeout():
    import dataclasses

    settings = dataclasses.replace(SETTINGS, completing_timeout=10)
    lines = [line("q1-dy-cr1-1", "IDLE+COMPLETING+CLOUD"),  # a job's end never reached it
             line("q1-dy-cr1-2", "MIXED+COMPLETING+CLOUD"),  # another job still runs there
             line("q1-st-cr1-1", "IDLE+COMPLETING+CLOUD"),  # static: never powered down
             line("q1-dy-cr1-3", "IDLE+COMPLETING+CLOUD+POWERING_DOWN")]  # on its way already
    instances = [instance(f"i-{n}", f"q1-dy-cr1-{n}") for n in (1, 2, 3)] + [instance("i-9", "q1-st-cr1-1")]
    first = plan(observe(lines, instances), Memory(), settings)
    assert first.actions == (Terminate(("i-3",), "dynamic node is powering down"),)
    assert first.memory.completing == {"q1-dy-cr1-1": NOW}
    still = plan(observe(lines, instances, time=NOW + 9.9), first.memory, settings)
    assert not any(isinstance(action, SetNodeState) for action in still.actions)
    stuck = plan(observe(lines, instances, time=NOW + 10), still.memory, settings)
    assert SetNodeState(("q1-dy-cr1-1",), "power_down_force", STUCK_COMPLETING_REASON) in stuck.actions
    assert stuck.memory.completing == {}
    # A node that finished completing meanwhile is forgotten; the sweep is off unless asked for (ParallelCluster).
    done = [line("q1-dy-cr1-1", "IDLE+CLOUD")] + lines[1:]
    assert plan(observe(done, instances, time=NOW + 5), first.memory, settings).memory.completing == {}
    assert plan(observe(lines, instances, time=NOW + 60), first.memory, SETTINGS).memory.completing == {}


def test_resume_timeout_and_launch_failures_count_as_bootstrap_failures():
    lines = [line("q1-dy-cr1-1", "DOWN+CLOUD+POWERED_DOWN+NOT_RESPONDING", "ResumeTimeout reached"),
             line("q1-dy-cr1-2", "DOWN+CLOUD+POWERED_DOWN", "(Code:LimitedInstanceCapacity)Failure when resuming"),
             line("q1-dy-cr2-1", "DOWN+CLOUD+POWERED_DOWN", "(Code:InvalidNodenameError)Failure when resuming nodes")]
    result = plan(observe(lines), Memory(), SETTINGS)
    assert result.actions == (
        SetNodeState(("q1-dy-cr1-1", "q1-dy-cr1-2", "q1-dy-cr2-1"), "power_down_force", HEALTH_CHECK_REASON),
        SetPartitionState("q1", "INACTIVE"),
        SetFleetStatus("PROTECTED"),
    )
    assert result.memory.bootstrap_failures == {"q1": {"cr1": 2, "cr2": 1}}


def test_orphans_are_terminated_once_older_than_the_timeout():
    instances = HEALTHY_INSTANCES + [instance("i-young", "q9-dy-gone-1", age=299),
                                     instance("i-old", "q9-dy-gone-2", age=300),
                                     instance("i-unknown", "q9-dy-gone-3", age=None)]
    result = plan(observe(HEALTHY, instances), Memory(), SETTINGS)
    assert result.actions == (Terminate(("i-old",), "orphaned instance"),)


def test_insufficient_capacity_disables_the_compute_resource_then_enables_it_after_the_timeout():
    lines = [line("q1-dy-cr1-1", "DOWN+CLOUD+POWERED_DOWN", ICE_REASON),
             line("q1-dy-cr1-2", "IDLE+CLOUD+POWERED_DOWN"),
             line("q1-dy-cr1-3", "IDLE+CLOUD+POWERED_DOWN"),
             line("q1-dy-cr1-4", "ALLOCATED+CLOUD"),  # running: not touched
             line("q1-dy-cr2-1", "IDLE+CLOUD+POWERED_DOWN")]  # another compute resource: not touched
    running = [instance("i-4", "q1-dy-cr1-4")]
    first = plan(observe(lines, running), Memory(), SETTINGS)
    assert first.actions == (SetNodeState(("q1-dy-cr1-1", "q1-dy-cr1-2", "q1-dy-cr1-3"), "down", ICE_DISABLED),)
    assert first.memory == Memory(ice={("q1", "cr1"): (NOW, "InsufficientInstanceCapacity")})

    # While held, the disabled nodes stay as they are and no bootstrap failure is counted.
    held = [line(f"q1-dy-cr1-{n}", "DOWN+CLOUD+POWERED_DOWN", ICE_DISABLED) for n in (1, 2, 3)] + lines[3:]
    second = plan(observe(held, running, time=NOW + 599), first.memory, SETTINGS)
    assert second == Plan(actions=(), memory=first.memory)

    third = plan(observe(held, running, time=NOW + 600), second.memory, SETTINGS)
    assert third.actions == (
        SetNodeState(("q1-dy-cr1-1", "q1-dy-cr1-2", "q1-dy-cr1-3"), "power_down_force", ICE_ENABLE_REASON),
    )
    assert third.memory == Memory()


def test_insufficient_capacity_handling_can_be_disabled():
    settings = PlanSettings(insufficient_capacity_timeout=0, protected_failure_count=3)
    result = plan(observe([line("q1-dy-cr1-1", "DOWN+CLOUD+POWERED_DOWN", ICE_REASON)]), Memory(), settings)
    assert result == Plan((SetNodeState(("q1-dy-cr1-1",), "power_down_force", HEALTH_CHECK_REASON),), Memory())


def test_a_compute_resource_re_enabled_by_hand_is_forgotten():
    memory = Memory(ice={("q1", "cr1"): (NOW - 60, "InsufficientInstanceCapacity")})
    result = plan(observe([line("q1-dy-cr1-1", "IDLE+CLOUD+POWERED_DOWN")]), memory, SETTINGS)
    assert result == Plan(actions=(), memory=Memory())


def failing(n: int, resource: str = "cr1") -> str:
    return line(f"q1-dy-{resource}-{n}", "DOWN+CLOUD+POWERED_DOWN",
                "(Code:LimitedInstanceCapacity)Failure when resuming nodes")


def test_protected_mode_accumulates_failures_across_loops():
    healthy_static = line("q1-st-cr2-1", "IDLE+CLOUD")  # online in another compute resource: no reset
    static_instance = [instance("i-s", "q1-st-cr2-1")]
    first = plan(observe([failing(1), failing(2), healthy_static], static_instance), Memory(), SETTINGS)
    assert first.memory.bootstrap_failures == {"q1": {"cr1": 2}}
    assert not any(isinstance(a, SetFleetStatus) for a in first.actions)

    second = plan(observe([failing(3), healthy_static], static_instance, time=NOW + 60), first.memory, SETTINGS)
    assert second.actions == (
        SetNodeState(("q1-dy-cr1-3",), "power_down_force", HEALTH_CHECK_REASON),
        SetPartitionState("q1", "INACTIVE"),
        SetFleetStatus("PROTECTED"),
    )
    assert second.memory.failure_count("q1") == 3


def test_protected_mode_waits_while_jobs_run_in_a_failing_partition():
    lines = [failing(1), failing(2), failing(3),
             line("q2-dy-cr1-1", "DOWN+CLOUD+POWERED_DOWN", "(Code:LimitedInstanceCapacity)Failure when resuming")]
    memory = Memory(bootstrap_failures={"q2": {"cr1": 2}})
    result = plan(observe(lines, jobs={"q2": 1}, q1="UP", q2="UP"), memory, SETTINGS)
    # q1 has no jobs but q2 (also over the threshold) has: no partition is deactivated this loop.
    assert not any(isinstance(a, (SetPartitionState, SetFleetStatus)) for a in result.actions)
    assert result.memory.bootstrap_failures == {"q1": {"cr1": 3}, "q2": {"cr1": 3}}


def test_a_node_of_a_failing_compute_resource_coming_online_resets_the_partition():
    memory = Memory(bootstrap_failures={"q1": {"cr1": 2, "cr2": 1}})
    lines = [line("q1-dy-cr1-1", "ALLOCATED+CLOUD")]
    result = plan(observe(lines, [instance("i-1", "q1-dy-cr1-1")]), memory, SETTINGS)
    assert result == Plan(actions=(), memory=Memory())


def test_already_protected_fleet_deactivates_without_setting_the_status_again():
    lines = [failing(1), failing(2), failing(3)]
    result = plan(observe(lines, status="PROTECTED"), Memory(), SETTINGS)
    assert result.actions[-1] == SetPartitionState("q1", "INACTIVE")


def test_inactive_partitions_lose_their_instances_and_are_not_managed():
    lines = [line("q1-st-cr1-1", "IDLE+CLOUD"),
             line("q1-dy-cr1-1", "ALLOCATED+CLOUD"),
             line("q1-dy-cr1-2", "IDLE+CLOUD+POWERED_DOWN"),
             line("q1-dy-cr1-3", "DOWN+CLOUD+POWERED_DOWN", ICE_REASON),
             line("q2-st-cr1-1", "IDLE+CLOUD")]  # active partition, lost its instance
    instances = [instance("i-1", "q1-st-cr1-1"), instance("i-2", "q1-dy-cr1-1")]
    result = plan(observe(lines, instances, status="PROTECTED", q1="INACTIVE", q2="UP"), Memory(), SETTINGS)
    assert result.actions == (
        Terminate(("i-1", "i-2"), "inactive partition"),
        SetNodeState(("q1-dy-cr1-1", "q1-st-cr1-1"), "down", "inactive partition"),
        SetNodeState(("q2-st-cr1-1",), "down", STATIC_REPLACEMENT_REASON),
        LaunchStatic(("q2-st-cr1-1",)),
    )
    # Once reset, the inactive partition's nodes need nothing more.
    after = [line("q1-st-cr1-1", "DOWN+CLOUD", "inactive partition"),
             line("q1-dy-cr1-1", "DOWN+CLOUD", "inactive partition")] + lines[2:4]
    again = plan(observe(after, status="PROTECTED", q1="INACTIVE"), Memory(), SETTINGS)
    assert again.actions == ()


@pytest.mark.parametrize("status", ["STOP_REQUESTED", "STOPPING", "STOPPED"])
def test_stopping_the_fleet(status):
    lines = HEALTHY + [line("q2-dy-cr1-1", "IDLE+CLOUD+POWERED_DOWN")]
    memory = Memory(static_in_replacement={"q1-st-cr1-1": NOW}, bootstrap_failures={"q1": {"cr1": 1}})
    result = plan(observe(lines, HEALTHY_INSTANCES, status=status, q1="UP", q2="INACTIVE"), memory, SETTINGS)
    assert result.actions == (
        SetNodeState(tuple(sorted(n.split()[0][9:] for n in HEALTHY)), "power_down_force", "stopping cluster"),
        SetPartitionState("q1", "INACTIVE"),
        Terminate(("i-1", "i-2", "i-3", "i-4"), "stopping cluster"),
    )
    assert result.memory == Memory()
    stopped = [line(n.split()[0][9:], "IDLE+CLOUD+POWERED_DOWN") for n in lines]
    assert plan(observe(stopped, status=status, q1="INACTIVE", q2="INACTIVE"), Memory(), SETTINGS).actions == ()


@pytest.mark.parametrize("status", ["START_REQUESTED", "STARTING"])
def test_starting_the_fleet_then_running_relaunches_static_nodes(status):
    lines = [line("q1-st-cr1-1", "IDLE+CLOUD+POWERED_DOWN"),
             line("q1-dy-cr1-1", "IDLE+CLOUD+POWERED_DOWN"),
             line("q1-dy-cr1-2", "DOWN+CLOUD", "inactive partition")]
    result = plan(observe(lines, status=status, q1="INACTIVE"), Memory(ice={("q1", "cr1"): (NOW, "x")}), SETTINGS)
    assert result == Plan(actions=(SetNodeState(("q1-dy-cr1-2",), "power_down_force", "starting cluster"),
                                   SetPartitionState("q1", "UP")),
                          memory=Memory())
    # Partitions are UP again: no more start work while the status catches up.
    assert plan(observe(lines[:2], status=status), Memory(), SETTINGS).actions == ()
    running = plan(observe(lines[:2]), Memory(), SETTINGS)
    assert running.actions == (SetNodeState(("q1-st-cr1-1",), "down", STATIC_REPLACEMENT_REASON),
                               LaunchStatic(("q1-st-cr1-1",)))


def test_static_nodes_are_replaced_only_once_powered_down():
    # Right after a fleet start the nodes are still powering down; a replacement launched now would register
    # before the power down completes and stay DOWN+POWERED_DOWN.
    lines = [line("q1-st-cr1-1", "DOWN+CLOUD+POWERING_DOWN", STATIC_REPLACEMENT_REASON),
             line("q1-st-cr1-2", "IDLE+CLOUD+POWERING_DOWN"),
             line("q1-st-cr1-3", "IDLE+CLOUD+POWER_DOWN")]
    assert plan(observe(lines), Memory(), SETTINGS).actions == ()
    powered_down = [line("q1-st-cr1-1", "DOWN+CLOUD+POWERED_DOWN", STATIC_REPLACEMENT_REASON),
                    line("q1-st-cr1-2", "IDLE+CLOUD+POWERED_DOWN"),
                    line("q1-st-cr1-3", "IDLE+CLOUD+POWERED_DOWN+POWER_DOWN")]
    replaced = ("q1-st-cr1-1", "q1-st-cr1-2", "q1-st-cr1-3")
    assert plan(observe(powered_down), Memory(), SETTINGS).actions == (
        SetNodeState(replaced, "down", STATIC_REPLACEMENT_REASON), LaunchStatic(replaced))


def test_plan_does_not_modify_its_input_memory():
    memory = Memory(ice={("q1", "cr1"): (NOW - 700, "InsufficientInstanceCapacity")},
                    static_in_replacement={"q1-st-cr1-1": NOW - 10},
                    bootstrap_failures={"q1": {"cr1": 1}})
    before = copy.deepcopy(memory)
    lines = [line("q1-st-cr1-1", "IDLE+CLOUD"), line("q1-dy-cr1-1", "DOWN+CLOUD+POWERED_DOWN", ICE_DISABLED),
             failing(2)]
    plan(observe(lines, [instance("i-1", "q1-st-cr1-1")]), memory, SETTINGS)
    assert memory == before


def test_actions_are_normalised_and_validated():
    assert SetNodeState(["b", "a", "a"], "down", "r").nodes == ("a", "b")
    assert Terminate(["i-2", "i-1"], "x").instance_ids == ("i-1", "i-2")
    with pytest.raises(ValueError):
        SetNodeState(("a",), "drain", "r")
    with pytest.raises(ValueError):
        SetPartitionState("q1", "DOWN")


def test_failed_resume_node_is_powered_down_to_release_its_job():
    from paracluster.daemon.observe import parse_scontrol_nodes
    from paracluster.daemon.plan import Memory, PlanSettings, SetNodeState, plan
    from paracluster.daemon.observe import Observation

    line = ("NodeName=ice-dy-scarce-1 NodeAddr=ice-dy-scarce-1 NodeHostName=ice-dy-scarce-1 "
            "State=DOWN+CLOUD+POWERING_UP Partitions=ice "
            "Reason=(Code:InsufficientInstanceCapacity)Failure when resuming nodes [slurm@2026-11-23T20:27:21]")
    obs = Observation(time=1000.0, nodes=tuple(parse_scontrol_nodes(line)), partitions=(), instances=(),
                      fleet_status="RUNNING", running_jobs_by_partition={})
    result = plan(obs, Memory(), PlanSettings(insufficient_capacity_timeout=60))
    assert SetNodeState(("ice-dy-scarce-1",), "power_down_force",
                        "(Code:InsufficientInstanceCapacity)Temporarily disabling node due to insufficient capacity"
                        ) in result.actions
    assert ("ice", "scarce") in result.memory.ice


def test_instance_with_failed_bootstrap_counts_at_once():
    from paracluster.daemon.observe import Observation, parse_scontrol_nodes
    from paracluster.daemon.plan import Memory, PlanSettings, SetNodeState, Terminate, plan

    line = "NodeName=q-dy-c-1 NodeAddr=q-dy-c-1 NodeHostName=q-dy-c-1 State=MIXED+CLOUD+POWERING_UP Partitions=q"
    failed = InstanceRecord("i-1", "ComputeNode", "c5.xlarge", "failed", None, format_time(1.0), "q-dy-c-1", "q", "c")
    obs = Observation(time=100.0, nodes=tuple(parse_scontrol_nodes(line)), partitions=(), instances=(failed,),
                      fleet_status="RUNNING", running_jobs_by_partition={})
    result = plan(obs, Memory(), PlanSettings(protected_failure_count=1))
    kinds = {type(action).__name__ for action in result.actions}
    assert any(isinstance(a, Terminate) and a.instance_ids == ("i-1",) for a in result.actions)
    assert any(isinstance(a, SetNodeState) and a.state == "power_down_force" for a in result.actions)
    assert result.memory.failure_count("q") == 1 or "SetFleetStatus" in kinds


FAILED_SCRIPT = "OnNodeConfigured failed: failed to run OnNodeConfigured script s3://b/f.sh: exited with code 3"


def test_failed_bootstraps_give_slurm_their_reason():
    lines = [line("q1-dy-cr1-1", "ALLOCATED+CLOUD+POWERING_UP"), line("q1-st-cr1-1", "IDLE+CLOUD")]
    failed = [instance("i-1", "q1-dy-cr1-1", state="failed", reason=FAILED_SCRIPT),
              instance("i-2", "q1-st-cr1-1", state="failed", reason=FAILED_SCRIPT + "\nsecond line")]
    result = plan(observe(lines, failed), Memory(), SETTINGS)
    reason = f"Bootstrap failure: {FAILED_SCRIPT}"
    assert result.actions == (
        Terminate(("i-1",), "unhealthy dynamic node"),
        SetNodeState(("q1-dy-cr1-1",), "power_down_force", reason),
        SetNodeState(("q1-st-cr1-1",), "down", reason + " second line"),
        Terminate(("i-2",), "unhealthy static node"),
        LaunchStatic(("q1-st-cr1-1",)),
    )
    assert result.memory.bootstrap_failures == {"q1": {"cr1": 2}}  # both count at once


def test_keep_failed_nodes_leaves_them_down_and_unreplaced():
    settings = PlanSettings(orphan_timeout=300, insufficient_capacity_timeout=600, protected_failure_count=3,
                            node_replacement_timeout=1800, keep_failed_nodes=True)
    lines = [line("q1-st-cr1-1", "IDLE+CLOUD"), line("q1-dy-cr1-1", "DOWN+CLOUD", f"Bootstrap failure: {FAILED_SCRIPT}")]
    failed = [instance("i-1", "q1-st-cr1-1", state="failed", reason=FAILED_SCRIPT),
              instance("i-2", "q1-dy-cr1-1", state="failed", reason=FAILED_SCRIPT)]
    result = plan(observe(lines, failed), Memory(), settings)
    # The static one is set DOWN once; the dynamic one already is: nothing is terminated or launched.
    assert result.actions == (SetNodeState(("q1-st-cr1-1",), "down", f"Bootstrap failure: {FAILED_SCRIPT}"),)


def test_bootstrap_reason_is_one_bounded_line():
    from paracluster.daemon.plan import BOOTSTRAP_REASON_LENGTH, bootstrap_reason

    assert bootstrap_reason([instance("i-1", "q-dy-c-1", reason="a\n b\tc")]) == "Bootstrap failure: a b c"
    assert bootstrap_reason([instance("i-1", "q-dy-c-1")]) == "Bootstrap failure: unknown"
    assert len(bootstrap_reason([instance("i-1", "q-dy-c-1", reason="x" * 1000)])) == BOOTSTRAP_REASON_LENGTH
