"""The node agent: ParallelCluster's bootstrap phases for a node's role, in order, each reading state before it acts.

Phases (ParallelCluster's init / preinstall / config / postinstall / finalize): base setup (accounts, directories,
files, cfnconfig, dna.json), OnNodeStart scripts, storage and scheduler configuration (mounts, munge, the daemons
of the configure phase), OnNodeConfigured scripts, finalize (slurmd on compute nodes, the cluster manager on the
head node). Running the agent again on a configured node changes nothing: files are rewritten only when they
differ, mounts and running services are left alone and custom actions run once per node.

Usage inside a running node: python -m paracluster.node.agent   (prints what each phase found or did)
At boot the node's bootstrap unit runs it with --boot (reporting to the host through status.json). An update-cluster
runs it with --update (the spec's files again, then OnNodeUpdated, unless --no-on-node-updated) and --restart SERVICE
(systemctl restart of the service's unit, then wait until it is ready).
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import subprocess
import sys
import time

from paracluster.node import actions

NODE_DIR = "/run/paracluster/node"  # the node's host directory, seen from inside
MARKS = "/var/lib/paracluster/bootstrap"  # one file per custom action event that ran to the end
CFNCONFIG = "/etc/parallelcluster/cfnconfig"


class BootstrapFailed(Exception):
    """A phase failed; str() is the reason the host shows (describe output, Slurm node reason)."""


class Agent:
    """One bootstrap run: the spec, a way to start services, and the log every phase writes to."""

    def __init__(self, spec: dict, services, log):
        self.spec = spec
        self.services = services  # has ensure(service) -> bool (True when it had to start it)
        self.log = log
        self.changes: list[str] = []

    def note(self, change: str) -> None:
        self.changes.append(change)
        self.log.write(f"  {change}\n")
        self.log.flush()


def _write_if_changed(agent: Agent, path: str, content: str | bytes, mode: int = 0o644,
                      owner: str | None = None) -> None:
    data = content.encode() if isinstance(content, str) else content
    try:
        with open(path, "rb") as current:
            same = current.read() == data
    except OSError:
        same = False
    if not same:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Created with at most the final mode: a key is never readable by others, not even for a moment.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode & 0o600), "wb") as out:
            out.write(data)
        agent.note(f"wrote {path}")
    if os.stat(path).st_mode & 0o7777 != mode:
        os.chmod(path, mode)
    _chown(path, owner)


def _chown(path: str, owner: str | None) -> None:
    if owner:
        entry = pwd.getpwnam(owner)
        if (os.stat(path).st_uid, os.stat(path).st_gid) != (entry.pw_uid, entry.pw_gid):
            os.chown(path, entry.pw_uid, entry.pw_gid)


def base_setup(agent: Agent) -> None:
    """/home when it is user storage, accounts, directories and files; cfnconfig and dna.json for custom action
    scripts."""
    from paracluster.node.mounts import mount_shared_storage

    spec = agent.spec
    for mounted in mount_shared_storage(spec, home=True):
        agent.note(f"mounted {mounted}")
    for database, lines in spec.get("accounts", {}).items():
        path = f"/etc/{database}"
        with open(path) as current:
            known = {line.split(":", 1)[0] for line in current if line.strip()}
        new = [line for line in lines if line.split(":", 1)[0] not in known]
        if new:
            with open(path, "a") as out:
                out.write("".join(f"{line}\n" for line in new))
            agent.note(f"added {len(new)} entries to {path}")
    for entry in spec.get("dirs", []):
        if not os.path.isdir(entry["path"]):
            os.makedirs(entry["path"])
            agent.note(f"created {entry['path']}")
        os.chmod(entry["path"], entry.get("mode", 0o755))
        _chown(entry["path"], entry.get("owner"))
    for entry in spec.get("files", []):
        # Keys are binary: they come base64-encoded.
        content = base64.b64decode(entry["content_b64"]) if "content_b64" in entry else entry["content"]
        _write_if_changed(agent, entry["path"], content, entry.get("mode", 0o644), entry.get("owner"))
    environment = spec.get("environment", {})
    if environment:
        lines = [f"{key}={_shell_quote(value)}" for key, value in environment.get("cfnconfig", {}).items()]
        _write_if_changed(agent, CFNCONFIG, "\n".join(lines) + "\n")
        link = "/opt/parallelcluster/cfnconfig"
        if not os.path.islink(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(CFNCONFIG, link)
        _write_if_changed(agent, "/etc/chef/dna.json", json.dumps({"cluster": environment.get("dna", {})}, indent=2)
                          + "\n")
        if environment.get("slurm_nodename"):
            _write_if_changed(agent, "/etc/parallelcluster/slurm_plugin/slurm_nodename",
                              environment["slurm_nodename"] + "\n")


def _shell_quote(value) -> str:
    if isinstance(value, list):
        return actions.bash_array([str(item) for item in value])
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _run_custom_actions(agent: Agent, event: str) -> None:
    mark = os.path.join(MARKS, event)
    if not agent.spec.get("actions", {}).get(event):
        return
    if os.path.exists(mark):
        return  # custom actions run once per node, at its bootstrap
    environment = agent.spec.get("environment", {})
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "HOME": "/root", "USER": "root", "LOGNAME": "root"}
    try:
        count = actions.run_event(agent.spec["actions"], event, base_env=env, log=agent.log,
                                  error_info=environment.get("error_info", {"node_type": agent.spec.get("role")}))
    except actions.ActionFailed as err:
        raise BootstrapFailed(f"{event} failed: {err}") from None
    os.makedirs(MARKS, exist_ok=True)
    with open(mark, "w") as out:
        out.write(f"{count} scripts ran\n")
    agent.note(f"ran {count} {event} script(s)")


def on_node_start(agent: Agent) -> None:
    _run_custom_actions(agent, "OnNodeStart")


def configure(agent: Agent) -> None:
    """Shared storage, the instance store, then the daemons of the configure phase (munge; slurmctld and sshd on the
    head node)."""
    from paracluster.node.ephemeral import setup_ephemeral
    from paracluster.node.mounts import mount_shared_storage

    for mounted in mount_shared_storage(agent.spec):
        agent.note(f"mounted {mounted}")
    method = setup_ephemeral(agent.spec)
    if method not in (None, "mounted"):
        agent.note(f"instance store striped with {method} at {agent.spec['ephemeral']['mount_dir']}")
    _start_phase(agent, "configure")


def on_node_configured(agent: Agent) -> None:
    _run_custom_actions(agent, "OnNodeConfigured")


def finalize(agent: Agent) -> None:
    """The daemons of the finalize phase: slurmd on compute nodes, the cluster manager on the head node."""
    _start_phase(agent, "finalize")


def _start_phase(agent: Agent, phase: str) -> None:
    for service in agent.spec.get("services", []):
        if service.get("phase", "configure") != phase:
            continue
        mark = os.path.join(MARKS, f"{service['name']}.done")
        if service.get("oneshot") and os.path.exists(mark):
            continue  # a setup step that already ran to the end on this node
        if agent.services.ensure(service):
            agent.note(f"{'ran' if service.get('oneshot') else 'started'} {service['name']}")
            if service.get("oneshot"):
                os.makedirs(MARKS, exist_ok=True)
                with open(mark, "w") as out:
                    out.write("done\n")


# The bootstrap sequence, in ParallelCluster's order.
PHASES = [
    ("base setup", base_setup),
    ("OnNodeStart", on_node_start),
    ("configure storage and scheduler", configure),
    ("OnNodeConfigured", on_node_configured),
    ("finalize", finalize),
]


def bootstrap(agent: Agent, on_phase=None) -> list[tuple[str, list[str]]]:
    """Run the phases in order; return each phase's changes; raise BootstrapFailed naming the phase that failed."""
    done = []
    for name, phase in PHASES:
        if on_phase:
            on_phase(name)
        agent.log.write(f"phase {name}\n")
        agent.log.flush()
        agent.changes = []
        try:
            phase(agent)
        except BootstrapFailed:
            raise
        except Exception as err:  # noqa: BLE001 - any failure fails the bootstrap with the phase named
            raise BootstrapFailed(f"{name} failed: {type(err).__name__}: {err}") from err
        done.append((name, agent.changes))
    return done


def update(agent: Agent, on_node_updated: bool = True) -> list[str]:
    """ParallelCluster's update on a node: the new spec's files (cfnconfig, dna.json, ...), then every OnNodeUpdated
    script, on each update (no mark: unlike the bootstrap's events, it runs whenever the cluster is updated)."""
    agent.changes = []
    base_setup(agent)
    if on_node_updated and agent.spec.get("actions", {}).get("OnNodeUpdated"):
        environment = agent.spec.get("environment", {})
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "HOME": "/root", "USER": "root", "LOGNAME": "root"}
        try:
            count = actions.run_event(agent.spec["actions"], "OnNodeUpdated", base_env=env, log=agent.log,
                                      error_info=environment.get("error_info", {"node_type": agent.spec.get("role")}))
        except actions.ActionFailed as err:
            raise BootstrapFailed(f"OnNodeUpdated failed: {err}") from None
        agent.note(f"ran {count} OnNodeUpdated script(s)")
    return agent.changes


def write_status(**fields) -> None:
    """Report to the host service through status.json in the node directory (state, phase, reason)."""
    path = os.path.join(NODE_DIR, "status.json")
    try:
        with open(path) as current:
            status = json.load(current)
    except (OSError, ValueError):
        status = {}
    status.update(fields, time=time.time())
    with open(path + ".tmp", "w") as out:
        json.dump(status, out)
    os.replace(path + ".tmp", path)


def boot(spec: dict, log) -> None:
    """The bootstrap at boot (the node's bootstrap unit runs it): the phases, reported as they go.

    As on ParallelCluster, a node whose bootstrap fails powers off, unless the cluster keeps failed nodes for a look.
    """
    from paracluster.node.systemd import SystemdServices

    write_status(name=spec["name"], state="booting", phase=None, reason="")
    try:
        if spec.get("inject_failure"):
            raise BootstrapFailed(spec["inject_failure"])
        bootstrap(Agent(spec, SystemdServices(), log), on_phase=lambda name: write_status(phase=name))
    except Exception as err:  # noqa: BLE001 - every failure is reported, with the phase it happened in
        reason = str(err) if isinstance(err, BootstrapFailed) else f"{type(err).__name__}: {err}"
        log.write(f"bootstrap failed: {reason}\n")
        log.flush()
        write_status(state="failed", reason=reason)
        if not spec.get("keep_failed"):
            subprocess.run(["systemctl", "--no-block", "poweroff"], check=False)
        raise SystemExit(1) from None
    write_status(state="running", phase=None)


def restart(spec: dict, name: str) -> None:
    """Restart one of the node's services (its unit) and wait until it is ready again."""
    from paracluster.node.systemd import SystemdServices

    service = next((item for item in spec.get("services", []) if item["name"] == name), None)
    if service is None:
        raise BootstrapFailed(f"the node has no service {name}")
    SystemdServices().restart(service)


def main() -> None:
    import argparse

    from paracluster.node.systemd import ServiceFailed, SystemdServices

    parser = argparse.ArgumentParser(prog="paracluster.node.agent")
    parser.add_argument("--boot", action="store_true", help="the bootstrap at boot, reported to the host")
    parser.add_argument("--update", action="store_true", help="apply an update-cluster: files, then OnNodeUpdated")
    parser.add_argument("--no-on-node-updated", action="store_true", help="with --update: skip OnNodeUpdated")
    parser.add_argument("--restart", metavar="SERVICE", help="restart a service and wait until it is ready")
    args = parser.parse_args()
    with open(os.path.join(NODE_DIR, "spec.json")) as source:
        spec = json.load(source)
    os.makedirs(os.path.join(NODE_DIR, "logs"), exist_ok=True)
    with open(os.path.join(NODE_DIR, "logs", "bootstrap.log"), "a") as log:
        if args.boot:
            boot(spec, log)
            return
        agent = Agent(spec, SystemdServices(), log)
        try:
            if args.restart:
                log.write(f"restart {args.restart}\n")
                restart(spec, args.restart)
                print(f"restarted {args.restart}")
                return
            if args.update:
                log.write("update\n")
                changes = update(agent, on_node_updated=not args.no_on_node_updated)
                print(f"update: {'; '.join(changes) if changes else 'nothing to do'}")
                return
            phases = bootstrap(agent)
        except (BootstrapFailed, ServiceFailed) as err:
            print(f"{'update' if args.update else 'bootstrap'} failed: {err}", file=sys.stderr)
            raise SystemExit(1) from None
    for name, changes in phases:
        print(f"{name}: {'; '.join(changes) if changes else 'nothing to do'}")


if __name__ == "__main__":
    main()
