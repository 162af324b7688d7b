"""What a local cluster's nodes are made of: the shared files of the cluster, and each node's spec for its PID 1."""

from __future__ import annotations

import json
import os
import pwd
import shutil
from pathlib import Path

from paracluster.providers.local import accounting, keypairs

# ParallelCluster's default user per OS (constants.OS_MAPPING); the local nodes run the host's OS underneath.
DEFAULT_USERS = {
    "alinux2": "ec2-user", "alinux2023": "ec2-user", "rhel8": "ec2-user", "rhel9": "ec2-user",
    "ubuntu1804": "ubuntu", "ubuntu2004": "ubuntu", "ubuntu2204": "ubuntu", "ubuntu2404": "ubuntu",
    "rocky8": "rocky", "rocky9": "rocky", "centos7": "centos",
}
SLURM_CONF_DIR = "/opt/slurm/etc"
SCRIPTS_DIR = f"{SLURM_CONF_DIR}/pcluster/scripts"  # ParallelCluster keeps its Slurm programs beside the config
PARACLUSTER_JSON = f"{SLURM_CONF_DIR}/pcluster/paracluster.json"
SSHD_CONFIG = "/etc/paracluster/sshd_config"
HOST_KEY = "/etc/paracluster/ssh_host_ed25519_key"


def shared_dirs(cluster_dir: Path) -> dict[str, Path]:
    """Host directories shared by the nodes of the cluster, by their path inside the nodes."""
    shared = cluster_dir / "shared"
    return {
        "/home": shared / "home",
        "/opt/slurm": shared / "opt-slurm",
        "/opt/parallelcluster/shared": shared / "parallelcluster",
        LOGIN_SHARED: shared / "parallelcluster-login",
    }


LOGIN_SHARED = "/opt/parallelcluster/shared_login_nodes"  # the head node's and login nodes' own copy of the config


def node_shared_dirs(cluster_dir: Path, node_type: str) -> dict[str, Path]:
    """The shared directories a node of this type mounts: compute nodes skip the login nodes' one, login nodes
    skip /opt/parallelcluster/shared (as in ParallelCluster)."""
    skip = {"ComputeNode": LOGIN_SHARED, "LoginNode": "/opt/parallelcluster/shared"}.get(node_type)
    return {target: source for target, source in shared_dirs(cluster_dir).items() if target != skip}


def _free_uid(start: int = 2000) -> int:
    used = {entry.pw_uid for entry in pwd.getpwall()}
    uid = start
    while uid in used:
        uid += 1
    return uid


def default_user(record: dict, config) -> dict:
    """The cluster's default user: ParallelCluster's name for the OS; a host account of that name is reused."""
    if record.get("defaultUser"):
        return record["defaultUser"]
    name = DEFAULT_USERS.get(config.image.os, "ec2-user")
    try:
        entry = pwd.getpwnam(name)
        user = {"name": name, "uid": entry.pw_uid, "gid": entry.pw_gid, "host": True}
    except KeyError:
        uid = _free_uid()
        user = {"name": name, "uid": uid, "gid": uid, "host": False}
    record["defaultUser"] = user
    return user


def cluster_files(record: dict, config, cluster_dir: Path, settings) -> None:
    """Create the cluster's shared directories, munge key, SSH keys, default user home, hosts and Slurm files."""
    from paracluster.providers.local.storage import internal_shared_dirs

    internal_shared_dirs(record, config, settings.state_path, cluster_dir)
    for path in shared_dirs(cluster_dir).values():
        path.mkdir(parents=True, exist_ok=True)
    record.setdefault("slurmrestd", bool(settings["slurmrestd"]))  # fixed at create, like the rest of the node
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
        keypairs.generate_ed25519(host_key, host_key.with_suffix(".pub"), f"paracluster-{record['name']}")
    head = record["instances"]["head"]
    public = (ssh_dir / "ssh_host_ed25519_key.pub").read_text().split()
    (ssh_dir / "known_hosts").write_text(f"{head['privateIpAddress']} {public[0]} {public[1]}\n")
    _default_user_home(record, config, cluster_dir, settings)
    hosts = ["127.0.0.1 localhost"] + [
        f"{node['privateIpAddress']} {node['nodeName']}" for node in record["instances"].values()
    ] + accounting.hosts_entries(record, config, settings.state_path)
    (cluster_dir / "hosts").write_text("\n".join(hosts) + "\n")
    for shared in ("/opt/parallelcluster/shared", LOGIN_SHARED):
        shutil.copyfile(cluster_dir / "cluster-config.yaml", shared_dirs(cluster_dir)[shared] / "cluster-config.yaml")
    write_slurm_files(record, config, cluster_dir, settings)


def _default_user_home(record: dict, config, cluster_dir: Path, settings) -> None:
    user = default_user(record, config)
    home = shared_dirs(cluster_dir)["/home"] / user["name"]
    ssh = home / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    key_name = config.head_node.ssh.key_name
    if key_name:
        pair = keypairs.ensure(settings.state_path, key_name)
        (ssh / "authorized_keys").write_text(pair.public_key + "\n")
        record["keyName"] = key_name
    for path in (home, ssh, *ssh.iterdir()):
        os.chown(path, user["uid"], user["gid"])
    home.chmod(0o755)
    ssh.chmod(0o700)


def write_slurm_files(record: dict, config, cluster_dir: Path, settings) -> None:
    """Render slurm.conf and friends into the cluster's shared /opt/slurm/etc."""
    from paracluster.catalog import catalog_for_config
    from paracluster.slurm.render import PowerSaving, RenderInput, render

    idle = settings["local.scaledown_idletime_seconds"]
    minutes = config.scheduling.slurm_settings.scaledown_idletime
    suspend_time = idle if idle != -2 else (-1 if minutes == -1 else minutes * 60)
    head = record["instances"]["head"]
    files = render(
        RenderInput(
            cluster_name=record["name"],
            head_hostname=head["nodeName"],
            head_address=head["privateIpAddress"],
            config=config,
            catalog=catalog_for_config(config),
            conf_dir=SLURM_CONF_DIR,
            state_save_location="/var/spool/slurm.state",
            slurmd_spool_dir="/var/spool/slurmd",
            log_dir="/var/log/slurm",
            run_dir="/run/slurm",
            resume_program=f"{SCRIPTS_DIR}/slurm_resume",
            suspend_program=f"{SCRIPTS_DIR}/slurm_suspend",
            resume_fail_program=f"{SCRIPTS_DIR}/slurm_suspend",
            prolog_slurmctld=f"{SCRIPTS_DIR}/prolog_slurmctld",
            power=PowerSaving(
                suspend_time=suspend_time,
                suspend_timeout=settings["local.suspend_timeout"],
                resume_timeout=resume_timeout(config, settings),
                power_save_interval=settings["local.power_save_interval"],
                power_save_min_interval=0,
            ),
            local_host=True,
            jwt_key=accounting.JWT_KEY,
        )
    )
    conf_dir = shared_dirs(cluster_dir)["/opt/slurm"] / "etc"
    for relative, text in files.items():
        path = conf_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
    write_node_programs(record, config, conf_dir, settings)
    accounting.write_files(record, config, cluster_dir, conf_dir, settings.state_path,
                           default_user(record, config)["name"])


def resume_timeout(config, settings) -> int:
    """Slurm's ResumeTimeout: ComputeNodeBootstrapTimeout keeps its meaning, capped by the local provider's timer."""
    return min(int(settings["local.resume_timeout"]), config.dev_settings.timeouts.compute_node_bootstrap_timeout)


def write_node_programs(record: dict, config, conf_dir: Path, settings) -> None:
    """The Slurm programs (resume, suspend, PrologSlurmctld) and what they and the cluster manager need to know."""
    from paracluster.providers.local.runtime import node_python, node_pythonpath

    scripts = conf_dir / "pcluster" / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    for name, module in (("slurm_resume", "paracluster.slurm.resume"), ("slurm_suspend", "paracluster.slurm.suspend"),
                         ("prolog_slurmctld", "paracluster.slurm.prolog")):
        path = scripts / name
        path.write_text(f"#!/bin/sh\n# {name} of ParaCluster (Slurm calls it on the head node)\n"
                        f"PYTHONPATH={node_pythonpath()} exec {node_python()} -m {module} \"$@\"\n")
        path.chmod(0o755)
    nodes = {
        node["nodeName"]: {"queue": node["queueName"], "computeResource": node["computeResource"],
                           "static": bool(node.get("static"))}
        for node in record["instances"].values() if node["nodeType"] == "ComputeNode"
    }
    knobs = {
        "cluster": record["name"],
        "scaling_strategy": config.scheduling.scaling_strategy,
        "resume_timeout": resume_timeout(config, settings),
        "clustermgtd_interval": settings["local.clustermgtd_interval"],
        "orphan_timeout": settings["local.orphan_timeout"],
        "insufficient_capacity_timeout": settings["local.insufficient_capacity_timeout"],
        "protected_failure_count": settings["local.protected_failure_count"],
        "node_replacement_timeout": resume_timeout(config, settings),
        "keep_failed_nodes": bool(settings["keep_failed_nodes"]),
        "nodes": nodes,
    }
    (conf_dir / "pcluster" / "paracluster.json").write_text(json.dumps(knobs, indent=1))


def build_node_spec(record: dict, config, node: dict, cluster_dir: Path, settings) -> dict:
    """The spec the node's PID 1 reads: root layers, mounts, accounts, directories, files and services."""
    from paracluster.providers.local import actions

    name = node["nodeName"]
    ovl = cluster_dir / "ovl" / name
    shared = shared_dirs(cluster_dir)
    from paracluster.providers.local.storage import node_mounts

    storage = node_mounts(record)
    # /home as user shared storage replaces the cluster's shared home.
    claimed = {item["target"].rstrip("/") for item in storage}
    binds = [{"source": str(source), "target": target}
             for target, source in node_shared_dirs(cluster_dir, node["nodeType"]).items() if target not in claimed]
    binds += [
        {"source": str(shared["/opt/slurm"] / "etc"), "target": "/etc/slurm", "readonly": True},
        {"source": str(cluster_dir / "munge"), "target": "/etc/munge", "readonly": True},
        {"source": str(cluster_dir / "hosts"), "target": "/etc/hosts", "readonly": True},
    ]
    user = default_user(record, config)
    accounts = {}
    if not user["host"]:
        accounts = {
            "passwd": [f"{user['name']}:x:{user['uid']}:{user['gid']}::/home/{user['name']}:/bin/bash"],
            "group": [f"{user['name']}:x:{user['gid']}:"],
            "shadow": [f"{user['name']}:*:19000:0:99999:7:::"],
        }
    dirs = [
        {"path": "/var/log/parallelcluster", "mode": 0o755, "owner": "slurm"},
        {"path": "/run/munge", "mode": 0o755, "owner": "munge"},
        {"path": "/run/slurm", "mode": 0o755, "owner": "slurm"},
        {"path": "/var/spool/slurm.state", "mode": 0o755, "owner": "slurm"},
        {"path": "/var/spool/slurmd", "mode": 0o755, "owner": "root"},
        {"path": "/var/log/slurm", "mode": 0o755, "owner": "slurm"},
    ]
    files = [{"path": "/etc/hostname", "content": f"{name}\n"}]
    munged = {"name": "munged", "argv": ["/usr/sbin/munged", "--foreground"], "user": "munge",
              "ready": "/run/munge/munge.socket.2"}
    sshd = {"name": "sshd", "argv": ["/usr/sbin/sshd", "-D", "-e", "-f", SSHD_CONFIG]}
    if node["nodeType"] == "LoginNode":
        # Login nodes: munge and the Slurm client commands, a real sshd; no slurmd and no cluster manager.
        dirs.append({"path": "/run/sshd", "mode": 0o755, "owner": "root"})
        files += _sshd_files(cluster_dir, node)
        services = [munged, sshd]
    elif node["nodeType"] == "HeadNode":
        from paracluster.providers.local.runtime import node_python, node_pythonpath

        dirs.append({"path": "/run/sshd", "mode": 0o755, "owner": "root"})
        files += _sshd_files(cluster_dir, node)
        binds.append({"source": str(cluster_dir / "fleet"), "target": "/run/paracluster/fleet"})
        extra = accounting.head_node_parts(record, config, cluster_dir)
        if not record.get("slurmrestd", True):
            extra["after"] = [service for service in extra["after"] if service["name"] != "slurmrestd"]
        files += extra["files"]
        for database, lines in extra["accounts"].items():
            accounts.setdefault(database, []).extend(lines)
        services = [
            munged,
            *extra["before"],
            {"name": "slurmctld", "argv": ["/usr/sbin/slurmctld", "-D"]},
            *extra["after"],
            sshd,
            {"name": "clustermgtd", "argv": [node_python(), "-m", "paracluster.daemon.loop"],
             "env": {"PYTHONPATH": node_pythonpath()}, "phase": "finalize"},
        ]
    else:
        # slurmd starts in the finalize phase, after OnNodeConfigured: a node whose scripts fail never gets a job.
        services = [munged, {"name": "slurmd", "argv": ["/usr/sbin/slurmd", "-D"], "phase": "finalize"}]
    node_dir = cluster_dir / "nodes" / name  # StateStore.node_dir
    return {
        "name": name,
        "cluster": record["name"],
        "hostname": name,
        "overlay": {"lower": "/", "upper": str(ovl / "upper"), "work": str(ovl / "work"), "root": str(ovl / "root")},
        "node_dir": str(node_dir),
        "role": node["nodeType"],
        "binds": binds,
        "accounts": accounts,
        "dirs": dirs,
        "files": files,
        "services": services,
        "environment": node_environment(record, config, node, settings),
        "actions": actions.resolve(config, node, settings.state_path, cluster_dir, node_dir),
        "keep_failed": bool(settings["keep_failed_nodes"]),
        "node_type": node["nodeType"],
        "storage": storage,
    }


# ParallelCluster's node_type values in cfnconfig and dna.json.
CFN_NODE_TYPES = {"HeadNode": "HeadNode", "ComputeNode": "ComputeFleet", "LoginNode": "LoginNode"}


def node_environment(record: dict, config, node: dict, settings) -> dict:
    """What ParallelCluster's scripts find on a node: cfnconfig variables, dna.json keys, the Slurm node name."""
    from paracluster.catalog import catalog_for_config
    from paracluster.providers.local import actions

    user = default_user(record, config)
    head = record["instances"]["head"]
    node_type = CFN_NODE_TYPES[node["nodeType"]]
    info = catalog_for_config(config).get(node["instanceType"])
    slots = info.vcpus if info else 1
    owner = actions.owner_of(config, node)
    local_storage = {"HeadNode": lambda: owner.local_storage,
                     "ComputeNode": lambda: owner.compute_settings.local_storage}.get(node["nodeType"])
    ephemeral_dir = local_storage().ephemeral_volume.mount_dir if local_storage else "/scratch"
    ebs_dirs = ",".join(storage.mount_dir for storage in config.shared_storage if storage.storage_type == "Ebs")
    region = record.get("region", "local")
    cfnconfig = {
        "stack_name": record["name"],
        "cfn_region": region,
        "cfn_scheduler": config.scheduling.scheduler,
        "cfn_scheduler_slots": "vcpus",
        "cfn_instance_slots": slots,
        "cfn_ephemeral_dir": ephemeral_dir,
        "cfn_ebs_shared_dirs": ebs_dirs or "NONE",
        "cfn_proxy": "NONE",
        "cfn_node_type": node_type,
        "cfn_cluster_user": user["name"],
    }
    # As ParallelCluster's cfnconfig: the commands that run each event's scripts (the scripts' own environment
    # has their URLs and args instead).
    for flag, variable in (("preinstall", "cfn_preinstall"), ("postinstall", "cfn_postinstall"),
                           ("postupdate", "cfn_postupdate")):
        cfnconfig[variable] = f"/opt/parallelcluster/scripts/fetch_and_run --execute-via-cfnconfig -{flag}"
        cfnconfig[f"{variable}_args"] = []
    dna = {
        "stack_name": record["name"], "cluster_name": record["name"], "base_os": config.image.os,
        "region": region, "scheduler": config.scheduling.scheduler, "node_type": node_type,
        "cluster_user": user["name"], "default_user_home": "Shared", "ephemeral_dir": ephemeral_dir,
        "stack_arn": f"arn:paracluster:local:{region}:cluster/{record['name']}",
        "head_node_private_ip": head["privateIpAddress"], "ebs_shared_dirs": ebs_dirs,
    }
    error_info = {"node_type": node["nodeType"], "name": node["nodeName"]}
    if node["nodeType"] == "ComputeNode":
        cfnconfig.update(cfn_head_node=head["nodeName"], cfn_head_node_private_ip=head["privateIpAddress"],
                         cfn_scheduler_queue_name=node["queueName"])
        dna.update(scheduler_queue_name=node["queueName"], scheduler_compute_resource_name=node["computeResource"])
        error_info.update(queue_name=node["queueName"], compute_resource=node["computeResource"],
                          node_spec="static" if node.get("static") else "dynamic", instance_type=node["instanceType"])
    elif node["nodeType"] == "HeadNode":
        cfnconfig["cfn_volume"] = ",".join(item["id"] for item in record.get("storage", [])
                                           if item["type"] == "Ebs") or "NONE"
    elif node["nodeType"] == "LoginNode":
        dna["pool_name"] = node["poolName"]
        error_info["pool_name"] = node["poolName"]
    return {"cfnconfig": cfnconfig, "dna": dna, "error_info": error_info,
            "slurm_nodename": node["nodeName"] if node["nodeType"] == "ComputeNode" else None}


def _sshd_files(cluster_dir: Path, node: dict) -> list[dict]:
    key = (cluster_dir / "ssh" / "ssh_host_ed25519_key").read_text()
    config = "\n".join([
        f"ListenAddress {node['privateIpAddress']}",
        f"HostKey {HOST_KEY}",
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "AuthorizedKeysFile .ssh/authorized_keys",
        "UsePAM no",
        "PrintMotd no",
        "AcceptEnv LANG LC_*",
        "Subsystem sftp internal-sftp",
        "PidFile /run/sshd.pid",
        "",
    ])
    return [
        {"path": SSHD_CONFIG, "content": config, "mode": 0o644},
        {"path": HOST_KEY, "content": key, "mode": 0o600},
    ]
