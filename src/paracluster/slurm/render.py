"""Render slurm.conf and the files it includes from a checked cluster config, as ParallelCluster does (pure)."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from paracluster.slurm.hostlist import compress_hostlist
from paracluster.slurm.nodes import NodeGroup, plan_node_groups

# ParallelCluster's values (pcluster-node-runtime.md 1.1, 7).
SUSPEND_TIMEOUT = 120
POWER_SAVE_MIN_INTERVAL = 30
NODE_REG_MEM_PERCENT = 75
SLURMDBD_PORT = 6819
# CustomSlurmSettings dicts with one of these keys define an object; that key has to come first on the line.
PRIMARY_KEYS = ("nodename", "partitionname", "nodeset", "downnodes")

CUSTOM_INCLUDE = "pcluster/custom_slurm_settings_include_file_slurm.conf"
PARTITION_MAPPING = "pcluster/parallelcluster_partition_nodelist_mapping.json"


@dataclass(frozen=True)
class PowerSaving:
    """Slurm power saving timers in seconds; None leaves a parameter at Slurm's default."""

    suspend_time: int  # -1 disables power saving
    suspend_timeout: int
    resume_timeout: int
    power_save_interval: int | None = None
    power_save_min_interval: int | None = None

    @classmethod
    def parallelcluster(cls, config) -> PowerSaving:
        """ParallelCluster's timers: SuspendTime from ScaledownIdletime, ResumeTimeout from the bootstrap timeout."""
        idle_minutes = config.scheduling.slurm_settings.scaledown_idletime
        return cls(
            suspend_time=-1 if idle_minutes == -1 else idle_minutes * 60,
            suspend_timeout=SUSPEND_TIMEOUT,
            resume_timeout=config.dev_settings.timeouts.compute_node_bootstrap_timeout,
            power_save_min_interval=POWER_SAVE_MIN_INTERVAL,
        )


@dataclass(frozen=True)
class RenderInput:
    """Everything the renderer needs; paths are those on the cluster's nodes."""

    cluster_name: str
    head_hostname: str
    head_address: str
    config: object  # the checked cluster config (a paracluster.config.model.ConfigNode)
    catalog: object  # an InstanceTypeCatalog that knows every instance type of the config
    conf_dir: str
    state_save_location: str
    slurmd_spool_dir: str
    log_dir: str
    run_dir: str
    resume_program: str | None
    suspend_program: str | None
    resume_fail_program: str | None
    prolog_slurmctld: str | None
    power: PowerSaving
    # True on the one-machine provider, where all nodes share the host's few cores and its memory.
    local_host: bool
    slurmctld_port: int = 6817
    slurmd_port: int = 6818
    # False renders GPUs as ParallelCluster does without an NVIDIA driver (--no-gpu): no Gres, an empty gres file.
    # None means True except on the local host, whose nodes have no /dev/nvidia* (slurmd would not start).
    gpu_gres: bool | None = None
    # The HS256 key of auth/jwt on the head node (slurmrestd); None leaves JWT authentication off.
    jwt_key: str | None = None

    @property
    def gres(self) -> bool:
        return (not self.local_host) if self.gpu_gres is None else self.gpu_gres


def _text(header: str, lines: Iterable[str]) -> str:
    return "\n".join([*(f"# {line}" if line else "#" for line in header.splitlines()), *lines]) + "\n"


def _settings(pairs: Iterable[tuple[str, object]]) -> list[str]:
    """`Key=value` lines; a None value leaves its key out, so optional settings read inline."""
    return [f"{key}={value}" for key, value in pairs if value is not None]


def _header(inp: RenderInput, what: str) -> str:
    return (
        f"{what} of cluster {inp.cluster_name}, rendered by ParaCluster.\n"
        "Do not edit: ParaCluster renders it again from the cluster config on every change."
    )


def _path(inp: RenderInput, relative: str) -> str:
    # Absolute include paths, as ParallelCluster writes them for the partition files: they read the same anywhere.
    return posixpath.join(inp.conf_dir, relative)


def _slurm_conf(inp: RenderInput) -> str:
    local = inp.local_host
    config = inp.config
    header = _header(inp, "Slurm configuration") + (
        "\nAWS ParallelCluster's settings; add others with Scheduling/SlurmSettings/CustomSlurmSettings."
    )
    lines = _settings(
        [
            ("ClusterName", inp.cluster_name),
            ("SlurmctldPort", inp.slurmctld_port),
            ("SlurmdPort", inp.slurmd_port),
            ("SlurmUser", "slurm"),
            ("AuthType", "auth/munge"),
            ("CredType", "cred/munge"),
            # slurmrestd's clients authenticate with JWTs that slurmctld checks with this key.
            ("AuthAltTypes", "auth/jwt" if inp.jwt_key else None),
            ("AuthAltParameters", f"jwt_key={inp.jwt_key}" if inp.jwt_key else None),
            ("StateSaveLocation", inp.state_save_location),
            ("SlurmdSpoolDir", inp.slurmd_spool_dir),
            ("SlurmctldPidFile", posixpath.join(inp.run_dir, "slurmctld.pid")),
            ("SlurmdPidFile", posixpath.join(inp.run_dir, "slurmd.pid")),
            ("SwitchType", "switch/none"),
            ("ReconfigFlags", "KeepPartState"),
            # As ParallelCluster: slurmstepd serves user and group lookups when users come from a directory.
            ("LaunchParameters", "enable_nss_slurm" if config.directory_service.present else None),
        ]
    )
    lines += ["#", "# CLOUD NODES AND POWER SAVING"]
    lines += _settings(
        [
            # Node names resolve directly (no DNS domain), so every message fans out from slurmctld itself.
            ("TreeWidth", 65533),
            # Local nodes come and go with new namespaces at the same names: never reuse a cached address.
            ("CommunicationParameters", "NoAddrCache" if local else None),
            ("SuspendProgram", inp.suspend_program),
            ("ResumeProgram", inp.resume_program),
            ("ResumeFailProgram", inp.resume_fail_program),
            # A local node shares the host's kernel: a reboot program there could only reach the host.
            ("RebootProgram", None if local else "/sbin/reboot"),
            # Without it sinfo hides powered-down cloud nodes.
            ("PrivateData", "cloud"),
            ("ResumeRate", 0),
            ("SuspendRate", 0),
        ]
    )
    lines += ["#", "# PROLOG AND EPILOG"]
    lines += _settings(
        [
            # As ParallelCluster: every script dropped into these directories runs, in name order (Slurm's glob).
            ("Prolog", _path(inp, f"{PROLOG_DIR}/*")),
            ("Epilog", _path(inp, f"{EPILOG_DIR}/*")),
            # Slurm 22.05 starts a batch job on resumed nodes only on a 30 s timer unless a PrologSlurmctld ends.
            ("PrologSlurmctld", inp.prolog_slurmctld),
            # Slurm holds batch jobs up to 3 s before scheduling them (batch_sched_delay) to batch submissions;
            # local nodes boot in a second, so that delay would dominate a job's start. A batch job is never
            # scheduled at submission in 22.05, only by the main scheduler's one-second loop or by backfill (every
            # bf_interval, 30 s by default): backfill every second as well halves the wait for the first of them.
            ("SchedulerParameters", "nohold_on_prolog_fail,batch_sched_delay=0,bf_interval=1" if local
             else "nohold_on_prolog_fail"),
            ("BatchStartTimeout", 180),
        ]
    )
    lines += ["#", "# TIMERS"]
    lines += _settings(
        [
            ("SlurmctldTimeout", 300),
            ("SlurmdTimeout", 180),
            ("UnkillableStepTimeout", 180),
            ("InactiveLimit", 0),
            ("MinJobAge", 300),
            ("KillWait", 30),
            ("Waittime", 0),
            ("MessageTimeout", 60),
            # A requeued batch job may start again only after the credential lifetime (+1 s): local nodes launch
            # within seconds, so a short lifetime lets jobs move to other nodes quickly after a failed resume.
            ("AuthInfo", "cred_expire=10" if local else "cred_expire=70"),
        ]
    )
    lines += ["#", "# SCHEDULING, JOB AND NODE SETTINGS"]
    lines += _settings(
        [
            ("EnforcePartLimits", "ALL"),
            ("SchedulerType", "sched/backfill"),
            ("SelectType", "select/cons_tres"),
            # Local nodes share the host's cores and memory: CPU binding and cgroup limits per node cannot hold, and
            # each slurmd must announce the node size of this file instead of the host's.
            ("ProctrackType", "proctrack/linuxproc" if local else "proctrack/cgroup"),
            ("TaskPlugin", "task/none" if local else "task/affinity,task/cgroup"),
            ("SlurmdParameters", "config_overrides" if local else None),
            ("MpiDefault", "none"),
            # Local nodes re-register after a host service restart; 2 lets them return from DOWN on their own.
            ("ReturnToService", 2 if local else 1),
            ("GresTypes", "gpu"),
        ]
    )
    lines += ["#", "# LOGGING"]
    lines += _settings(
        [
            ("SlurmctldDebug", "verbose"),
            ("SlurmctldLogFile", posixpath.join(inp.log_dir, "slurmctld.log")),
            ("SlurmdDebug", "info"),
            ("SlurmdLogFile", posixpath.join(inp.log_dir, "slurmd.log")),
            ("DebugFlags", "Power"),
            ("JobCompType", "jobcomp/none"),
        ]
    )
    # The custom settings come last so that they override everything above.
    lines += [
        "#",
        f"include {_path(inp, 'slurm_parallelcluster.conf')}",
        f"include {_path(inp, CUSTOM_INCLUDE)}",
    ]
    return _text(header, lines)


def _slurmctld_parameters(inp: RenderInput) -> str:
    power = inp.power
    parameters = ["idle_on_node_suspend"]
    if inp.local_host:
        # Local nodes resolve through /etc/hosts pre-filled with every node name: slurmctld never sets NodeAddr.
        parameters.append("cloud_dns")
    if power.power_save_interval is not None:
        parameters.append(f"power_save_interval={power.power_save_interval}")
    if power.power_save_min_interval is not None:
        parameters.append(f"power_save_min_interval={power.power_save_min_interval}")
    parameters.append(f"node_reg_mem_percent={NODE_REG_MEM_PERCENT}")
    return ",".join(parameters)


def _accounting(inp: RenderInput) -> list[tuple[str, object]]:
    settings = inp.config.scheduling.slurm_settings
    if settings.database.present:
        host, port = inp.head_hostname, SLURMDBD_PORT
    elif settings.external_slurmdbd.present:
        host, port = settings.external_slurmdbd.host, settings.external_slurmdbd.port
    else:
        return [("AccountingStorageType", "accounting_storage/none")]
    return [
        ("AccountingStorageType", "accounting_storage/slurmdbd"),
        ("AccountingStorageHost", host),
        ("AccountingStoragePort", port),
        ("AccountingStorageUser", "slurm"),
        # Local nodes have no per-job cgroups (proctrack/linuxproc), so usage is gathered from /proc.
        ("JobAcctGatherType", "jobacct_gather/linux" if inp.local_host else "jobacct_gather/cgroup"),
    ]


def _parallelcluster_conf(inp: RenderInput, groups: list[NodeGroup]) -> str:
    config = inp.config
    power = inp.power
    controller = f"{inp.head_hostname}({inp.head_address})" if inp.head_address else inp.head_hostname
    memory = config.scheduling.slurm_settings.enable_memory_based_scheduling
    static_ranges = [group.static_range for group in groups if group.static_nodes]
    lines = _settings(
        [
            ("SlurmctldHost", controller),
            ("SuspendTime", power.suspend_time),
            ("ResumeTimeout", power.resume_timeout),
            ("SuspendTimeout", power.suspend_timeout),
            ("SlurmctldParameters", _slurmctld_parameters(inp)),
            ("SelectTypeParameters", "CR_CPU_Memory" if memory else "CR_CPU"),
            *_accounting(inp),
            # Static nodes are never powered down: they stay up for the cluster's whole life.
            ("SuspendExcNodes", ",".join(static_ranges) if static_ranges else None),
        ]
    )
    lines += [
        f"include {_path(inp, partition_file(queue.name))}" for queue in config.scheduling.slurm_queues
    ]
    return _text(_header(inp, "Cluster settings"), lines)


def partition_file(queue: str) -> str:
    return f"pcluster/slurm_parallelcluster_{queue}_partition.conf"


def _custom(settings: Iterable[tuple[str, object]]) -> str:
    return "".join(f" {key}={value}" for key, value in settings)


def _node_lines(group: NodeGroup, gres: bool) -> list[str]:
    lines = []
    for static, nodes, weight in (
        (True, group.static_nodes, group.static_weight),
        (False, group.dynamic_nodes, group.dynamic_weight),
    ):
        if not nodes:
            continue
        # Features of the compute resource's CustomSlurmSettings (allowed since ParallelCluster 3.15) join
        # ParallelCluster's own, which the cluster manager and users' constraints rely on.
        custom = [(key, value) for key, value in group.custom_settings if str(key).lower() not in FEATURE_KEYS]
        extra = [str(value) for key, value in group.custom_settings if str(key).lower() in FEATURE_KEYS]
        features = ",".join([*group.features(static), *extra])
        line = (
            f"NodeName={compress_hostlist(nodes)} CPUs={group.cpus} RealMemory={group.real_memory} State=CLOUD"
            f" Feature={features} Weight={weight}"
        )
        if gres and group.gpu_count > 0:
            line += f" Gres={_gres_name(group)}:{group.gpu_count}"
        lines.append(line + _custom(custom))
    return lines


FEATURE_KEYS = ("feature", "features")


def _gres_name(group: NodeGroup) -> str:
    # An unnamed GPU gets an untyped Gres (gpu:N), which Slurm accepts as well.
    return f"gpu:{group.gpu_type}" if group.gpu_type else "gpu"


def _nodelist(groups: Iterable[NodeGroup]) -> str:
    ranges = []
    for group in groups:
        ranges += [compress_hostlist(nodes) for nodes in (group.static_nodes, group.dynamic_nodes) if nodes]
    return ",".join(ranges)


def _partition_conf(inp: RenderInput, queue, index: int, groups: list[NodeGroup]) -> str:
    lines = []
    for group in groups:
        lines += _node_lines(group, inp.gres)
    partition = f"PartitionName={queue.name} Nodes={queue.name}_nodes MaxTime=INFINITE State=UP"
    if index == 0:
        partition += " Default=YES"
    if queue.job_exclusive_allocation:
        partition += " OverSubscribe=EXCLUSIVE"
    partition += _custom(queue.custom_slurm_settings.items())
    lines += ["", f"NodeSet={queue.name}_nodes Nodes={_nodelist(groups)}", partition]
    return _text(_header(inp, f"Nodes and partition of queue {queue.name}"), lines)


def _custom_line(settings: dict) -> str:
    keys = list(settings)
    primary = next((key for key in keys if str(key).lower() in PRIMARY_KEYS), None)
    if primary is not None:
        keys.remove(primary)
        keys.insert(0, primary)
    return " ".join(f"{key}={settings[key]}" for key in keys)


def _custom_include(inp: RenderInput) -> str:
    slurm_settings = inp.config.scheduling.slurm_settings
    header = (
        f"Cluster-level CustomSlurmSettings of cluster {inp.cluster_name}, rendered by ParaCluster; included last.\n"
        "Edit Scheduling/SlurmSettings/CustomSlurmSettings in the cluster config, not this file."
    )
    url = slurm_settings.custom_slurm_settings_include_file
    if url:
        # ParallelCluster downloads this URL over the file; the renderer does no I/O, so the caller does that.
        return _text(f"{header}\nReplaced by the contents of {url} (CustomSlurmSettingsIncludeFile).", [])
    lines = [_custom_line(item) for item in slurm_settings.custom_slurm_settings if item]
    return _text(header, lines)


def _gres_conf(inp: RenderInput, groups: list[NodeGroup]) -> str:
    lines = []
    if inp.gres:
        for group in groups:
            if group.gpu_count <= 0:
                continue
            kind = f" Type={group.gpu_type}" if group.gpu_type else ""
            for nodes in (group.static_nodes, group.dynamic_nodes):
                if nodes:
                    lines.append(
                        f"NodeName={compress_hostlist(nodes)} Name=gpu{kind} File=/dev/nvidia[0-{group.gpu_count - 1}]"
                    )
    return _text(_header(inp, "NVIDIA GPUs of the compute nodes"), lines)


PROLOG_DIR = "scripts/prolog.d"
EPILOG_DIR = "scripts/epilog.d"
NOOP_SCRIPT = "#!/bin/sh\n# Keeps this directory's glob in slurm.conf matching; site scripts go beside it.\nexit 0\n"


def render(inp: RenderInput) -> dict[str, str]:
    """All Slurm config files of the cluster: relative path under conf_dir -> file text."""
    config = inp.config
    if config.scheduling.scheduler != "slurm":
        raise ValueError(f"the cluster's scheduler is {config.scheduling.scheduler}, not slurm")
    groups = plan_node_groups(config, inp.catalog)
    queues = config.scheduling.slurm_queues
    files = {
        "slurm.conf": _slurm_conf(inp),
        "slurm_parallelcluster.conf": _parallelcluster_conf(inp, groups),
    }
    mapping = {}
    for index, queue in enumerate(queues):
        queue_groups = [group for group in groups if group.queue == queue.name]
        files[partition_file(queue.name)] = _partition_conf(inp, queue, index, queue_groups)
        mapping[queue.name] = _nodelist(queue_groups)
    # The mapping tells the node daemons which partitions and nodes the cluster manages.
    files[PARTITION_MAPPING] = json.dumps(mapping, indent=2) + "\n"
    files[CUSTOM_INCLUDE] = _custom_include(inp)
    memory = config.scheduling.slurm_settings.enable_memory_based_scheduling
    files["cgroup.conf"] = _text(
        _header(inp, "cgroup configuration"),
        ["ConstrainCores=yes", f"include {_path(inp, 'slurm_parallelcluster_cgroup.conf')}"],
    )
    # Memory limits are only enforced when memory is scheduled, as in ParallelCluster.
    files["slurm_parallelcluster_cgroup.conf"] = _text(
        _header(inp, "cgroup settings"), ["ConstrainRAMSpace=yes"] if memory else []
    )
    files["gres.conf"] = _text(
        _header(inp, "Generic resources"), [f"include {_path(inp, 'slurm_parallelcluster_gres.conf')}"]
    )
    files["slurm_parallelcluster_gres.conf"] = _gres_conf(inp, groups)
    # A glob that matches nothing fails every job: each directory starts with ParallelCluster's no-op script.
    for directory in (PROLOG_DIR, EPILOG_DIR):
        files[f"{directory}/90_pcluster_noop"] = NOOP_SCRIPT
    return files
