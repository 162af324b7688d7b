"""The CloudWatch agent's config a node gets, as ParallelCluster writes it, and the node files that carry it.

ParallelCluster's cookbook keeps a table of log files (stream name, path, node roles, OS families, timestamp format,
feature conditions) and writes, per node, the entries for its role and OS with the cluster's log group and stream
names `<hostname>.{instance_id}.<log name>`, at AGENT_CONFIG; the agent starts with `amazon-cloudwatch-agent-ctl -a
append-config ... -s`. The table below holds the same facts (ParallelCluster 3.x); where ParaCluster's programs
write a log elsewhere than ParallelCluster's do, the entry names the file ParaCluster writes, so what the config
lists is what gets collected. LOCAL_STREAMS are ParaCluster's additions: daemons that log only to their standard
output (which ParallelCluster's nodes send to syslog).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from paracluster.plan.spec import SLURM_LOG_DIR

AGENT_HOME = "/opt/aws/amazon-cloudwatch-agent"
AGENT_CONFIG = f"{AGENT_HOME}/etc/amazon-cloudwatch-agent.json"
AGENT_CTL = f"{AGENT_HOME}/bin/amazon-cloudwatch-agent-ctl"
AGENT_CTL_LINK = "/usr/bin/amazon-cloudwatch-agent-ctl"  # where the agent's package puts it on PATH
LOG_GROUP_PREFIX = "/aws/parallelcluster/"
NODE_LOG_DIR = "/run/paracluster/node/logs"  # the node's host log directory seen inside (node agent, PID 1)
BOOTSTRAP_LOG = f"{NODE_LOG_DIR}/bootstrap.log"

TIMESTAMP_FORMATS = {
    "month_first": "%b %-d %H:%M:%S",
    "default": "%Y-%m-%d %H:%M:%S,%f",
    "bracket_default": "[%Y-%m-%d %H:%M:%S]",
    "slurm": "%Y-%m-%dT%H:%M:%S.%f",
    "json": "",
}

HEAD, COMPUTE, LOGIN = "HeadNode", "ComputeFleet", "LoginNode"  # ParallelCluster's node roles (dna node_type)
ALL_ROLES = (HEAD, COMPUTE, LOGIN)
RPM_FAMILIES = ("amazon", "centos", "redhat", "rocky")
ALL_FAMILIES = RPM_FAMILIES + ("ubuntu",)


@dataclass(frozen=True)
class LogFile:
    """One entry of the table: a log file, the stream it goes to, and which nodes collect it."""

    stream: str
    path: str
    roles: tuple[str, ...]
    timestamp: str = "default"
    families: tuple[str, ...] = ALL_FAMILIES
    feature: str | None = None  # collected only when the cluster has this feature (dcv, directory_service, ...)


_DCV = (HEAD, LOGIN)
LOG_FILES = (
    LogFile("system-messages", "/var/log/messages", ALL_ROLES, "month_first", RPM_FAMILIES),
    LogFile("syslog", "/var/log/syslog", ALL_ROLES, "month_first", ("ubuntu",)),
    # ParaCluster's bootstrap log holds what cfn-init (head node) and cloud-init (compute and login nodes) show on
    # ParallelCluster's: the phases and every custom action script's output.
    LogFile("cfn-init", BOOTSTRAP_LOG, (HEAD,)),
    LogFile("cfn-init", "/var/log/cfn-init.log", (LOGIN,)),
    LogFile("cfn-hup", "/var/log/cfn-hup.log", ALL_ROLES),
    LogFile("chef-client", "/var/log/chef-client.log", ALL_ROLES),
    LogFile("bootstrap_error_msg", "/var/log/parallelcluster/bootstrap_error_msg", (COMPUTE,), "json"),
    LogFile("cloud-init", "/var/log/cloud-init.log", ALL_ROLES),
    LogFile("cloud-init-output", BOOTSTRAP_LOG, (COMPUTE, LOGIN)),
    LogFile("supervisord", "/var/log/supervisord.log", ALL_ROLES),
    LogFile("clustermgtd", "/var/log/parallelcluster/clustermgtd.log", (HEAD,)),
    LogFile("clustermgtd_events", "/var/log/parallelcluster/clustermgtd.events", (HEAD,), "json"),
    LogFile("slurm_resume_events", "/var/log/parallelcluster/slurm_resume.events", (HEAD,), "json"),
    LogFile("compute_console_output", "/var/log/parallelcluster/compute_console_output.log", (HEAD,)),
    LogFile("computemgtd", "/var/log/parallelcluster/computemgtd", (COMPUTE,)),
    LogFile("slurm_resume", "/var/log/parallelcluster/slurm_resume.log", (HEAD,)),
    LogFile("slurm_suspend", "/var/log/parallelcluster/slurm_suspend.log", (HEAD,)),
    LogFile("slurm_fleet_status_manager", "/var/log/parallelcluster/slurm_fleet_status_manager.log", (HEAD,)),
    LogFile("slurmd", f"{SLURM_LOG_DIR}/slurmd.log", (COMPUTE,), "slurm"),
    LogFile("slurmctld", f"{SLURM_LOG_DIR}/slurmctld.log", (HEAD,), "slurm"),
    LogFile("slurmdbd", f"{SLURM_LOG_DIR}/slurmdbd.log", (HEAD,), "slurm"),
    LogFile("dcv-authenticator", "/var/log/parallelcluster/pcluster_dcv_authenticator.log", _DCV, feature="dcv"),
    LogFile("sssd", "/var/log/sssd/sssd.log", (HEAD,), feature="directory_service"),
    LogFile("sssd_domain_default", "/var/log/sssd/sssd_default.log", (HEAD,), feature="directory_service"),
    LogFile("pam_ssh_key_generator", "/var/log/parallelcluster/pam_ssh_key_generator.log", (HEAD, LOGIN),
            feature="generate_ssh_keys"),
    LogFile("dcv-ext-authenticator", "/var/log/parallelcluster/pcluster_dcv_connect.log", _DCV, "bracket_default",
            feature="dcv"),
    LogFile("dcv-server", "/var/log/dcv/server.log", _DCV, feature="dcv"),
    LogFile("dcv-session-launcher", "/var/log/dcv/sessionlauncher.log", _DCV, feature="dcv"),
    LogFile("dcv-agent", "/var/log/dcv/agent.*.log", _DCV, feature="dcv"),
    LogFile("dcv-xsession", "/var/log/dcv/dcv-xsession.*.log", _DCV, feature="dcv"),
    LogFile("Xdcv", "/var/log/dcv/Xdcv.*.log", _DCV, feature="dcv"),
    LogFile("slurm_health_check", "/var/log/parallelcluster/slurm_health_check.log", (COMPUTE,)),
    LogFile("slurm_health_check_events", "/var/log/parallelcluster/slurm_health_check.events", (COMPUTE,), "json"),
    LogFile("clusterstatusmgtd", "/var/log/parallelcluster/clusterstatusmgtd", (HEAD,)),
)
LOCAL_STREAMS = (
    LogFile("munge", f"{NODE_LOG_DIR}/munged.log", ALL_ROLES, "json"),  # "json": no timestamp format
    LogFile("sshd", f"{NODE_LOG_DIR}/sshd.log", (HEAD, LOGIN), "json"),
    LogFile("slurmrestd", f"{NODE_LOG_DIR}/slurmrestd.log", (HEAD,), "json"),
)


def log_group_name(cluster: str, stamp: str) -> str:
    """A retained log group outlives its cluster, so the name carries the create time (as ParallelCluster's):
    `stamp` is YYYYMMDDhhmm."""
    return f"{LOG_GROUP_PREFIX}{cluster}-{stamp}"


def os_family(os_name: str) -> str:
    """The OS family ParallelCluster's table uses for an `Image/Os` value."""
    for prefix, family in (("alinux", "amazon"), ("ubuntu", "ubuntu"), ("rhel", "redhat"), ("rocky", "rocky"),
                           ("centos", "centos")):
        if os_name.startswith(prefix):
            return family
    return "amazon"


def cluster_features(config) -> frozenset[str]:
    """The table's feature conditions a cluster satisfies (DCV on the head node, a directory service)."""
    features = set()
    dcv = config.head_node.dcv
    if dcv.present and dcv.enabled:
        features.add("dcv")
    directory = config.directory_service
    if directory.present:
        features.add("directory_service")
        if directory.generate_ssh_keys_for_users:
            features.add("generate_ssh_keys")
    return frozenset(features)


def agent_config(role: str, family: str, features: frozenset[str], log_group: str, hostname: str) -> dict:
    """The agent config of one node (ParallelCluster's shape): the table's entries for its role, OS family and the
    cluster's features, each with the log group and the node's stream name; the head node also reports metrics."""
    entries = []
    for item in LOG_FILES + LOCAL_STREAMS:
        if role not in item.roles or family not in item.families or (item.feature and item.feature not in features):
            continue
        entry = {"log_stream_name": f"{hostname}.{{instance_id}}.{item.stream}", "file_path": item.path}
        if TIMESTAMP_FORMATS[item.timestamp]:
            entry["timestamp_format"] = TIMESTAMP_FORMATS[item.timestamp]
        entry["log_group_name"] = log_group
        entries.append(entry)
    config = {"logs": {"logs_collected": {"files": {"collect_list": entries}},
                       "log_stream_name": f"{hostname}.{{instance_id}}.default-log-stream"}}
    if role == HEAD:
        config["metrics"] = {
            "metrics_collected": {
                "mem": {"metrics_collection_interval": 60, "measurement": ["mem_used_percent"]},
                "disk": {"metrics_collection_interval": 60, "measurement": ["disk_used_percent"], "resources": ["/"]},
            },
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "aggregation_dimensions": [["InstanceId", "path"]],
        }
    return config


def node_files(config, role: str, log_group: str, hostname: str, python: str, pythonpath: str) -> list[dict]:
    """The node spec's files: the agent config at ParallelCluster's path, and `amazon-cloudwatch-agent-ctl`
    (ParaCluster's, paracluster.node.cwagent) where the agent's package puts it."""
    body = agent_config(role, os_family(config.image.os), cluster_features(config), log_group, hostname)
    ctl = f'#!/bin/sh\nPYTHONPATH={pythonpath} exec {python} -m paracluster.node.cwagent "$@"\n'
    return [
        {"path": AGENT_CONFIG, "content": json.dumps(body, indent=4) + "\n", "mode": 0o644},
        {"path": AGENT_CTL, "content": ctl, "mode": 0o755},
        {"path": AGENT_CTL_LINK, "content": ctl, "mode": 0o755},
    ]
