"""What a cluster's Slurm gets from the plan: the renderer's input and the knobs its head-node programs read."""

from __future__ import annotations

import math
from dataclasses import dataclass

from paracluster.plan.inventory import PlannedNode
from paracluster.plan.spec import JWT_KEY, SCRIPTS_DIR, SLURM_CONF_DIR, SLURM_LOG_DIR, ClusterFacts
from paracluster.slurm.render import PowerSaving, RenderInput


@dataclass(frozen=True)
class Timers:
    """The power saving and cluster manager timers, in seconds. Defaults are ParallelCluster's; the local provider
    sets faster ones from its settings."""

    suspend_timeout: int = 120
    resume_timeout: int | None = None  # None: the config's ComputeNodeBootstrapTimeout, as ParallelCluster
    # Added per dynamic node of the cluster. On EC2 a burst's instances boot side by side; on one machine they boot
    # a few at a time, and the last node of a burst of all of them must not be declared dead for being last.
    resume_timeout_per_node: float = 0.0
    power_save_interval: int | None = None
    power_save_min_interval: int | None = 0
    scaledown_idletime_seconds: int | None = None  # None: the config's ScaledownIdletime minutes
    clustermgtd_interval: float = 60.0
    orphan_timeout: float = 300.0
    insufficient_capacity_timeout: float = 600.0
    protected_failure_count: int = 10
    completing_timeout: float = 0.0  # sweep of nodes stuck COMPLETING (the cluster manager); 0: none, as ParallelCluster
    fleet_provider: str = "local"  # which fleet the head node's programs reach (paracluster.fleet.connect)


def resume_timeout(config, timers: Timers) -> int:
    """Slurm's ResumeTimeout: ComputeNodeBootstrapTimeout keeps its meaning, capped by the provider's timer (plus its
    allowance per dynamic node)."""
    bootstrap = config.dev_settings.timeouts.compute_node_bootstrap_timeout
    if timers.resume_timeout is None:
        return bootstrap
    dynamic = sum(max(resource.max_count - resource.min_count, 0) for queue in config.scheduling.slurm_queues
                  for resource in queue.compute_resources)
    return min(int(timers.resume_timeout) + math.ceil(timers.resume_timeout_per_node * dynamic), bootstrap)


def render_input(config, catalog, facts: ClusterFacts, timers: Timers, local_host: bool) -> RenderInput:
    """The Slurm renderer's input for this cluster (paths are those on the nodes)."""
    minutes = config.scheduling.slurm_settings.scaledown_idletime
    suspend_time = timers.scaledown_idletime_seconds
    if suspend_time is None:
        suspend_time = -1 if minutes == -1 else minutes * 60
    return RenderInput(
        cluster_name=facts.name,
        head_hostname=facts.head_name,
        head_address=facts.head_address,
        config=config,
        catalog=catalog,
        conf_dir=SLURM_CONF_DIR,
        state_save_location="/var/spool/slurm.state",
        slurmd_spool_dir="/var/spool/slurmd",
        log_dir=SLURM_LOG_DIR,
        run_dir="/run/slurm",
        resume_program=f"{SCRIPTS_DIR}/slurm_resume",
        suspend_program=f"{SCRIPTS_DIR}/slurm_suspend",
        resume_fail_program=f"{SCRIPTS_DIR}/slurm_suspend",
        prolog_slurmctld=f"{SCRIPTS_DIR}/prolog_slurmctld",
        power=PowerSaving(
            suspend_time=suspend_time,
            suspend_timeout=timers.suspend_timeout,
            resume_timeout=resume_timeout(config, timers),
            power_save_interval=timers.power_save_interval,
            power_save_min_interval=timers.power_save_min_interval,
        ),
        local_host=local_host,
        jwt_key=JWT_KEY,
    )


def knobs(config, facts: ClusterFacts, nodes: list[PlannedNode], timers: Timers) -> dict:
    """paracluster.json: what the resume and suspend programs and the cluster manager read on the head node.

    They re-read it on every run, so a change applies live, as ParallelCluster's configuration files do.
    """
    return {
        "cluster": facts.name,
        "fleet": {"provider": timers.fleet_provider},
        "scaling_strategy": config.scheduling.scaling_strategy,
        "resume_timeout": resume_timeout(config, timers),
        "clustermgtd_interval": timers.clustermgtd_interval,
        "orphan_timeout": timers.orphan_timeout,
        "insufficient_capacity_timeout": timers.insufficient_capacity_timeout,
        "protected_failure_count": timers.protected_failure_count,
        "completing_timeout": timers.completing_timeout,
        "node_replacement_timeout": resume_timeout(config, timers),
        "keep_failed_nodes": facts.keep_failed_nodes,
        "nodes": {node.name: {"queue": node.queue, "computeResource": node.compute_resource, "static": node.static}
                  for node in nodes if node.node_type == "ComputeNode"},
    }


def program_scripts(facts: ClusterFacts) -> dict[str, str]:
    """The Slurm programs (resume, suspend, PrologSlurmctld) as small shell wrappers, by file name."""
    scripts = {}
    for name, module in (("slurm_resume", "paracluster.slurm.resume"), ("slurm_suspend", "paracluster.slurm.suspend"),
                         ("prolog_slurmctld", "paracluster.slurm.prolog")):
        scripts[name] = (f"#!/bin/sh\n# {name} of ParaCluster (Slurm calls it on the head node)\n"
                         f"PYTHONPATH={facts.node_pythonpath} exec {facts.node_python} -m {module} \"$@\"\n")
    return scripts
