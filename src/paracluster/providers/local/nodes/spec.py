"""What a local cluster's nodes are made of: the cluster's shared files on the host, and each node's spec for PID 1.

The content of a spec (accounts, files, services, environment) is the plan's (`paracluster.plan.spec`); this module
adds how a local node gets it: overlay root layers, bind mounts of the cluster's host directories, the scripts of
its custom actions fetched onto the host, its storage and instance store.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
from pathlib import Path

from paracluster.plan import ClusterPlan
from paracluster.plan.identity import ec2_short_hostname, hosts_line
from paracluster.plan.spec import Account, ClusterFacts, NodeKeys, default_user_name, node_spec
from paracluster.plan.slurm import Timers, knobs, program_scripts, render_input
from paracluster.providers.local.standins import accounting, keypairs
from paracluster.providers.local.host.state import ClusterState, NodeRecord

LOGIN_SHARED = "/opt/parallelcluster/shared_login_nodes"
DEFAULT_USER_ID = 1000  # the head node's and login nodes' own copy of the config


def shared_dirs(cluster_dir: Path) -> dict[str, Path]:
    """Host directories shared by the nodes of the cluster, by their path inside the nodes."""
    shared = cluster_dir / "shared"
    return {
        "/home": shared / "home",
        "/opt/slurm": shared / "opt-slurm",
        "/opt/parallelcluster/shared": shared / "parallelcluster",
        LOGIN_SHARED: shared / "parallelcluster-login",
    }


def node_shared_dirs(cluster_dir: Path, node_type: str) -> dict[str, Path]:
    """The shared directories a node of this type mounts: compute nodes skip the login nodes' one, login nodes
    skip /opt/parallelcluster/shared (as in ParallelCluster)."""
    skip = {"ComputeNode": LOGIN_SHARED, "LoginNode": "/opt/parallelcluster/shared"}.get(node_type)
    return {target: source for target, source in shared_dirs(cluster_dir).items() if target != skip}


def _free_uid(start: int) -> int:
    used = {entry.pw_uid for entry in pwd.getpwall()}
    uid = start
    while uid in used:
        uid += 1
    return uid


def host_or_new_account(name: str, first_uid: int) -> Account:
    """A host account of that name (the nodes' root is the host's), else a new one with a uid the host does not use."""
    try:
        entry = pwd.getpwnam(name)
        return Account(name, entry.pw_uid, entry.pw_gid, host=True)
    except KeyError:
        uid = _free_uid(first_uid)
        return Account(name, uid, uid)


def choose_accounts(record: ClusterState, config) -> None:
    """Fix the cluster's default user and slurmrestd's user at create (they stay what they were on a resume)."""
    if record.default_user is None:
        # As on ParallelCluster's AMIs: the default user is uid and gid 1000, the first person of the image (the
        # node keeps only the host's system accounts, nodes/rootfs.py), leaving 2000 and up to site scripts.
        name = default_user_name(config)
        record.default_user = Account(name, DEFAULT_USER_ID, DEFAULT_USER_ID)
    if record.rest_user is None:
        # slurmrestd 22.05 refuses root and SlurmUser: it runs as an unprivileged user of its own.
        record.rest_user = host_or_new_account(accounting.REST_USER, 64200)


def facts(record: ClusterState, settings, extra_files: tuple[dict, ...] = ()) -> ClusterFacts:
    from paracluster.providers.local.nodes.runtime import node_python, node_pythonpath
    from paracluster.providers.local.host.views import stack_arn

    head = record.head
    return ClusterFacts(
        name=record.name,
        region=record.region,
        stack_arn=stack_arn(record),
        head_name=ec2_short_hostname(head.address),  # the head node keeps EC2's hostname, as in ParallelCluster
        head_address=head.address,
        default_user=record.default_user,
        rest_user=record.rest_user,
        slurmrestd=record.slurmrestd,
        node_python=node_python(),
        node_pythonpath=node_pythonpath(),
        ebs_volume_ids=tuple(item["id"] for item in record.storage if item["type"] == "Ebs"),
        keep_failed_nodes=bool(settings["keep_failed_nodes"]),
        extra_files=extra_files,
    )


def node_facts(record: ClusterState, config, settings, extra_files: tuple[dict, ...] = ()) -> ClusterFacts:
    """The facts a node spec needs: the cluster's, and its log group (ParallelCluster's name; none when disabled)."""
    import dataclasses

    from paracluster.providers.local.standins.cwlogs import cluster_log_group

    group = cluster_log_group(record, config)
    return dataclasses.replace(facts(record, settings, extra_files), log_group_name=group.name if group else None)


def timers(settings) -> Timers:
    """The local provider's fast timers (ParallelCluster's are the defaults of Timers)."""
    idle = settings["local.scaledown_idletime_seconds"]
    return Timers(
        suspend_timeout=settings["local.suspend_timeout"],
        resume_timeout=settings["local.resume_timeout"],
        resume_timeout_per_node=settings["local.resume_timeout_per_node"],
        power_save_interval=settings["local.power_save_interval"],
        power_save_min_interval=0,
        scaledown_idletime_seconds=None if idle == -2 else idle,
        clustermgtd_interval=settings["local.clustermgtd_interval"],
        orphan_timeout=settings["local.orphan_timeout"],
        insufficient_capacity_timeout=settings["local.insufficient_capacity_timeout"],
        protected_failure_count=settings["local.protected_failure_count"],
        completing_timeout=settings["local.completing_timeout"],
        fleet_provider="local",
    )


def cluster_files(record: ClusterState, plan: ClusterPlan, cluster_dir: Path, settings) -> None:
    """Create the cluster's shared directories, munge key, SSH keys, default user home, hosts and Slurm files."""
    from paracluster.providers.local.standins.storage import internal_shared_dirs

    config = plan.config
    internal_shared_dirs(record, config, settings.state_path, cluster_dir)
    for path in shared_dirs(cluster_dir).values():
        path.mkdir(parents=True, exist_ok=True)
    (cluster_dir / "nodes").mkdir(exist_ok=True)
    munge = pwd.getpwnam("munge")
    munge_dir = cluster_dir / "munge"
    munge_dir.mkdir(mode=0o700, exist_ok=True)
    key = munge_dir / "munge.key"
    arn = config.scheduling.slurm_settings.munge_key_secret_arn
    if arn:  # a shared key (a standalone slurmdbd must trust this cluster's credentials)
        wanted = accounting.munge_key(settings.state_path, arn)
        if not key.exists() or key.read_bytes() != wanted:
            key.unlink(missing_ok=True)
            key.write_bytes(wanted)
    elif not key.exists():
        key.write_bytes(os.urandom(1024))
    for path, mode in ((munge_dir, 0o700), (key, 0o400)):
        os.chown(path, munge.pw_uid, munge.pw_gid)
        path.chmod(mode)
    ssh_dir = cluster_dir / "ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    host_key = ssh_dir / "ssh_host_ed25519_key"
    if not host_key.with_suffix(".pub").exists():
        keypairs.generate_ed25519(host_key, host_key.with_suffix(".pub"), f"paracluster-{record.name}")
    public = (ssh_dir / "ssh_host_ed25519_key.pub").read_text().split()
    (ssh_dir / "known_hosts").write_text(f"{record.head.address} {public[0]} {public[1]}\n")
    _default_user_home(record, config, cluster_dir, settings)
    write_hosts(record, config, cluster_dir, settings)
    for shared in ("/opt/parallelcluster/shared", LOGIN_SHARED):
        shutil.copyfile(cluster_dir / "cluster-config.yaml", shared_dirs(cluster_dir)[shared] / "cluster-config.yaml")
    accounting.ensure_jwt_key(cluster_dir)
    slurm_layout(shared_dirs(cluster_dir)["/opt/slurm"])
    write_slurm_files(record, plan, cluster_dir, settings)


def write_hosts(record: ClusterState, config, cluster_dir: Path, settings) -> None:
    """Every node name the cluster may have, at its fixed address (Slurm's cloud_dns), and the database's name."""
    hosts = ["127.0.0.1 localhost"] + [hosts_line(config, record.name, record.region, node.node, node.address)
                                       for node in record.nodes.values()]
    hosts += accounting.hosts_entries(record, config, settings.state_path)
    (cluster_dir / "hosts").write_text("\n".join(hosts) + "\n")


def _default_user_home(record: ClusterState, config, cluster_dir: Path, settings) -> None:
    user = record.default_user
    home = shared_dirs(cluster_dir)["/home"] / user.name
    ssh = home / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    key_name = config.head_node.ssh.key_name
    if key_name:
        pair = keypairs.ensure(settings.state_path, key_name)
        (ssh / "authorized_keys").write_text(pair.public_key + "\n")
        record.key_name = key_name
    for path in (home, ssh, *ssh.iterdir()):
        os.chown(path, user.uid, user.gid)
    home.chmod(0o755)
    ssh.chmod(0o700)


# ParallelCluster installs Slurm under /opt/slurm; local nodes run Debian's, which these links point at, so scripts
# that call /opt/slurm/bin/scontrol or /opt/slurm/sbin/slurmrestd work unchanged.
SLURM_PROGRAMS = {
    "bin": ("sacct", "sacctmgr", "salloc", "sattach", "sbatch", "sbcast", "scancel", "scontrol", "scrontab", "sdiag",
            "sinfo", "sprio", "squeue", "sreport", "srun", "sshare", "sstat", "strigger"),
    "sbin": ("slurmctld", "slurmd", "slurmdbd", "slurmrestd", "slurmstepd"),
}


def slurm_layout(opt_slurm: Path) -> None:
    """/opt/slurm/{bin,sbin,lib} as ParallelCluster lays it out, linking the host's Slurm (the nodes' root is it)."""
    import sysconfig

    for directory, programs in SLURM_PROGRAMS.items():
        (opt_slurm / directory).mkdir(parents=True, exist_ok=True)
        for program in programs:
            source = Path(f"/usr/{directory}/{program}")
            link = opt_slurm / directory / program
            if source.exists() and not link.is_symlink():
                link.symlink_to(source)
    library = Path("/usr/lib") / (sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu")
    (opt_slurm / "lib").mkdir(exist_ok=True)
    link = opt_slurm / "lib" / "slurm"  # Slurm's plugins, where ParallelCluster's build puts them
    if not link.is_symlink():
        link.symlink_to(library / "slurm-wlm")


def write_slurm_files(record: ClusterState, plan: ClusterPlan, cluster_dir: Path, settings) -> None:
    """Render slurm.conf and friends, the Slurm programs and their knobs into the cluster's shared /opt/slurm/etc."""
    from paracluster.slurm.render import render

    cluster = facts(record, settings)
    local_timers = timers(settings)
    conf_dir = shared_dirs(cluster_dir)["/opt/slurm"] / "etc"
    files = render(render_input(plan.config, plan.catalog, cluster, local_timers, local_host=True))
    files.update({f"pcluster/scripts/{name}": text for name, text in program_scripts(cluster).items()})
    planned = [node.node for node in record.nodes.values()]
    files["pcluster/paracluster.json"] = json.dumps(knobs(plan.config, cluster, planned, local_timers), indent=1)
    for relative, text in files.items():
        path = conf_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755 if relative.startswith(("pcluster/scripts/", "scripts/")) else 0o644)
    accounting.write_files(record, plan.config, conf_dir, settings.state_path)


def build_node_spec(record: ClusterState, plan: ClusterPlan, node: NodeRecord, cluster_dir: Path, settings) -> dict:
    """The spec the node's PID 1 reads: the plan's spec plus root layers, mounts, scripts and storage."""
    from paracluster.providers.local.images.store import node_lower_dirs
    from paracluster.providers.local.standins import actions
    from paracluster.providers.local.standins.awsapi import cluster as awsapi_cluster
    from paracluster.providers.local.standins.storage import node_mounts

    name = node.name
    node_type = node.node.node_type
    keys = NodeKeys(
        ssh_host_key=(cluster_dir / "ssh" / "ssh_host_ed25519_key").read_text(),
        jwt_key=(cluster_dir / "jwt" / "jwt_hs256.key").read_bytes() if node_type == "HeadNode" else None,
    )
    aws_files = awsapi_cluster.node_files(settings.state_path, record)
    spec = node_spec(plan.config, plan.catalog, node_facts(record, plan.config, settings, aws_files), node.node,
                     node.address, keys)
    ovl = cluster_dir / "ovl" / name
    shared = shared_dirs(cluster_dir)
    storage = node_mounts(record)
    # /home as user shared storage replaces the cluster's shared home.
    claimed = {item["target"].rstrip("/") for item in storage}
    binds = [{"source": str(source), "target": target}
             for target, source in node_shared_dirs(cluster_dir, node_type).items() if target not in claimed]
    binds += [
        {"source": str(shared["/opt/slurm"] / "etc"), "target": "/etc/slurm", "readonly": True},
        {"source": str(cluster_dir / "munge"), "target": "/etc/munge", "readonly": True},
        {"source": str(cluster_dir / "hosts"), "target": "/etc/hosts", "readonly": True},
    ]
    if node_type == "HeadNode":
        binds.append({"source": str(cluster_dir / "fleet"), "target": "/run/paracluster/fleet"})
    node_dir = cluster_dir / "nodes" / name  # StateStore.node_dir
    spec.update(
        overlay={"lower": node_lower_dirs(settings.state_path, plan.config, node.node), "upper": str(ovl / "upper"),
                 "work": str(ovl / "work"), "root": str(ovl / "root")},
        node_dir=str(node_dir),
        binds=binds,
        actions=actions.resolve(plan.config, node.node, settings.state_path, cluster_dir, node_dir),
        storage=storage,
    )
    return spec
