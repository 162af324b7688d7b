"""systemd units of a node, rendered from its spec: the node's services under ParallelCluster's unit names (pure).

A node boots systemd as PID 1 over the host's root filesystem, so the node's /etc/systemd/system hides the host's
(its enabled units are the host's business) and holds only: multi-user.target as the default, masks for the host
units a namespace node has no use for (udev, getty, logind, timers, clock and network managers), the bootstrap unit
that runs the node agent's phases, and one unit per service of the spec, which the agent starts in ParallelCluster's
order. The units are not enabled: like ParallelCluster's cookbook, the bootstrap starts each daemon when its phase
comes, so a site script's `systemctl restart slurmctld` or `systemctl enable --now my.service` acts on real units.
"""

from __future__ import annotations

import shlex

LOG_DIR = "/run/paracluster/node/logs"  # the node's host directory, seen from inside
BOOTSTRAP_UNIT = "paracluster-bootstrap.service"

# The spec's service names and ParallelCluster's unit names for them; other services get `paracluster-<name>`.
UNIT_NAMES = {
    "munged": "munge.service",
    "slurmctld": "slurmctld.service",
    "slurmdbd": "slurmdbd.service",
    "slurmrestd": "slurmrestd.service",
    "slurmd": "slurmd.service",
    "sshd": "sshd.service",
}
# Aliases a script may use (`systemctl restart ssh` on Debian and Ubuntu): symlinks to the unit.
ALIASES = {"sshd.service": ("ssh.service",)}

# Units of the host's /lib/systemd that would only cost time in a node or touch what is the host's (its clock,
# devices, kernel modules, host-wide sysctls, consoles, logins): masked, so they are not even loaded as jobs.
MASKED = (
    "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
    "sys-kernel-config.mount", "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "sys-fs-fuse-connections.mount",
    "dev-hugepages.mount", "dev-mqueue.mount", "kmod-static-nodes.service", "systemd-modules-load.service",
    "systemd-sysctl.service", "systemd-firstboot.service", "systemd-machine-id-commit.service",
    "systemd-random-seed.service", "systemd-repart.service", "systemd-pcrphase.service",
    "systemd-pcrphase-sysinit.service", "systemd-ask-password-console.path", "systemd-ask-password-wall.path",
    "systemd-tmpfiles-setup-dev.service", "systemd-sysusers.service", "systemd-hwdb-update.service",
    "systemd-journal-catalog-update.service", "systemd-update-done.service", "ldconfig.service",
    "systemd-udevd.service", "systemd-udev-trigger.service", "systemd-udev-settle.service",
    "systemd-udevd-control.socket", "systemd-udevd-kernel.socket", "cryptsetup.target", "integritysetup.target",
    "veritysetup.target", "systemd-journald-audit.socket", "systemd-initctl.socket",
    "getty.target", "getty-static.service", "console-getty.service", "systemd-logind.service",
    "systemd-update-utmp-runlevel.service", "systemd-update-utmp.service", "dbus.service", "dbus.socket",
    "systemd-tmpfiles-clean.timer", "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
    "e2scrub_all.timer", "fstrim.timer", "man-db.timer", "e2scrub_reap.service",
    "systemd-timesyncd.service", "systemd-networkd.service", "systemd-resolved.service", "systemd-pstore.service",
    "systemd-remount-fs.service", "systemd-hostnamed.service", "systemd-timedated.service",
    "ssh.socket", "rescue.target", "emergency.target",
    "systemd-journal-flush.service",  # the journal is volatile: there is nothing to flush to /var
)
# Generators of the host that would add units from its fstab, crypttab, SysV scripts or databases.
GENERATORS = (
    "postgresql-generator", "systemd-cryptsetup-generator", "systemd-debug-generator", "systemd-fstab-generator",
    "systemd-getty-generator", "systemd-gpt-auto-generator", "systemd-hibernate-resume-generator",
    "systemd-integritysetup-generator", "systemd-rc-local-generator", "systemd-run-generator",
    "systemd-system-update-generator", "systemd-sysv-generator", "systemd-veritysetup-generator",
)

JOURNALD_CONF = """\
[Journal]
# A node's journal is small and in memory: the node's logs that matter are files under /var/log (collected by the
# host service) and its services' output in the node directory.
Storage=volatile
RuntimeMaxUse=8M
RuntimeMaxFileSize=1M
ForwardToSyslog=no
ForwardToWall=no
ReadKMsg=no
"""

SYSTEM_CONF = """\
[Manager]
# A node stops in seconds: a daemon that ignores SIGTERM is killed after 5 s, not 90.
DefaultTimeoutStopSec=5s
ShowStatus=no
"""

# Daemons whose children must outlive a restart of the daemon: job steps of slurmd, login sessions of sshd.
KEEP_CHILDREN = ("slurmd", "sshd")


# The node's daemons and its bootstrap need nothing of sysinit.target (their mounts and directories exist before
# systemd starts, their output goes to files): they start without waiting for the journal and tmpfiles, and still
# stop before the node powers off.
EARLY = ("DefaultDependencies=no", "Conflicts=shutdown.target", "Before=shutdown.target")


def unit_name(service: str) -> str:
    return UNIT_NAMES.get(service, f"paracluster-{service.replace('_', '-')}.service")


def _exec(argv: list[str]) -> str:
    # systemd's ExecStart is not a shell: words are quoted as it expects, and % and $ are its own specifiers.
    return " ".join(shlex.quote(word).replace("%", "%%").replace("$", "$$") for word in argv)


def service_unit(service: dict) -> str:
    """The unit of one spec service: its command, user, environment and log file; oneshot setup steps stay so."""
    name = service["name"]
    lines = ["[Unit]", f"Description=ParaCluster node service {name}", *EARLY, "", "[Service]"]
    lines.append("Type=oneshot" if service.get("oneshot") else "Type=exec")
    lines.append(f"ExecStart={_exec(service['argv'])}")
    if service.get("user"):
        lines.append(f"User={service['user']}")
    for key, value in sorted({"LANG": "C.UTF-8", **service.get("env", {})}.items()):
        lines.append(f"Environment={shlex.quote(f'{key}={value}')}")
    lines += [f"StandardOutput=append:{LOG_DIR}/{name}.log", "StandardError=inherit"]
    ready = service.get("ready")
    if ready:
        # Started means ready: `systemctl start|restart` returns once the daemon listens, so the next command of a
        # site script (scontrol, sacctmgr, curl) finds it answering.
        lines.append(f"ExecStartPost={_exec(['/bin/bash', '-c', _wait_ready(ready)])}")
    timeout = service.get("timeout")
    if timeout:
        lines.append(f"TimeoutStartSec={timeout:g}")
    if name in KEEP_CHILDREN:
        lines.append("KillMode=process")
    if name == "slurmd":
        # As Debian's and SchedMD's slurmd.service: MPI pins memory, and jobs inherit slurmd's limits.
        lines += ["LimitNOFILE=131072", "LimitMEMLOCK=infinity", "LimitSTACK=infinity"]
    return "\n".join(lines) + "\n"


def _wait_ready(ready: str) -> str:
    if ready.startswith("tcp:"):
        host, port = ready[len("tcp:"):].rsplit(":", 1)
        return f"until (exec 3<>/dev/tcp/{host}/{port}) 2>/dev/null; do sleep 0.02; done"
    return f"until test -e {shlex.quote(ready)}; do sleep 0.01; done"


def bootstrap_unit(python: str, pythonpath: str) -> str:
    """The unit that runs the node agent's bootstrap phases once, at boot (ParallelCluster's cloud-init and chef)."""
    return "\n".join([
        "[Unit]",
        "Description=ParaCluster node bootstrap (base setup, OnNodeStart, configure, OnNodeConfigured, finalize)",
        *EARLY,
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        f"ExecStart={_exec([python, '-m', 'paracluster.node.agent', '--boot'])}",
        f"Environment={shlex.quote(f'PYTHONPATH={pythonpath}')}",
        "Environment=LANG=C.UTF-8",
        f"StandardOutput=append:{LOG_DIR}/bootstrap.log",
        "StandardError=inherit",
        "TimeoutStartSec=infinity",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]) + "\n"


def system_files(spec: dict, python: str, pythonpath: str) -> tuple[dict[str, str], dict[str, str]]:
    """What the node's upper layer gets under /etc: (files by path, symlinks by path -> target).

    /etc/systemd/system itself is made opaque by the caller, so none of the host's units or wants show through.
    """
    system = "/etc/systemd/system"
    files = {
        f"{system}/{BOOTSTRAP_UNIT}": bootstrap_unit(python, pythonpath),
        "/etc/systemd/journald.conf.d/paracluster.conf": JOURNALD_CONF,
        "/etc/systemd/system.conf.d/paracluster.conf": SYSTEM_CONF,
    }
    links = {
        f"{system}/default.target": "/lib/systemd/system/multi-user.target",
        f"{system}/multi-user.target.wants/{BOOTSTRAP_UNIT}": f"{system}/{BOOTSTRAP_UNIT}",
    }
    links.update({f"{system}/{unit}": "/dev/null" for unit in MASKED})
    links.update({f"/etc/systemd/system-generators/{name}": "/dev/null" for name in GENERATORS})
    for service in spec.get("services", []):
        unit = unit_name(service["name"])
        files[f"{system}/{unit}"] = service_unit(service)
        for alias in ALIASES.get(unit, ()):
            links[f"{system}/{alias}"] = unit
    return files, links
