"""`amazon-cloudwatch-agent-ctl` on a node: the CloudWatch agent's control command, driving what gets collected.

As the real agent's: `-a fetch-config -m ec2 -c file:PATH [-s]` replaces the agent's configs with PATH's,
`-a append-config` adds one (a site script adding its own log file), `-a remove-config` drops one, `-a start|stop`,
`-a status` prints the agent's JSON status. Configs live in AGENT_DIR as `file_<name>`; `-s` (re)starts the agent
with them. The provider's host service reads the same files (through `active_entries`) and collects the files they
list; nothing runs in the node. Before any command ran, the agent is running with ParallelCluster's config (the
node's bootstrap started it with append-config), unless the cluster's CloudWatch logging is disabled (dna.json).
Standard library only: this runs inside nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HOME = "/opt/aws/amazon-cloudwatch-agent"
CONFIG = f"{HOME}/etc/amazon-cloudwatch-agent.json"  # ParallelCluster's config (the node spec writes it)
AGENT_DIR = f"{HOME}/etc/amazon-cloudwatch-agent.d"
STATE = f"{HOME}/var/agent-state.json"  # {"status": running|stopped, "starttime": ...}
DNA = "/etc/chef/dna.json"
VERSION = "1.300000.0 (paracluster)"


class ConfigInvalid(Exception):
    """A config file the agent refuses; str() says why."""


def check_config(text: str, source: str) -> dict:
    """The config's JSON, if the agent would accept its logs section (files each with a file_path)."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ConfigInvalid(f"{source} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigInvalid(f"{source} must hold a JSON object")
    files = ((data.get("logs") or {}).get("logs_collected") or {}).get("files")
    if files is not None:
        entries = files.get("collect_list") if isinstance(files, dict) else None
        if not isinstance(entries, list):
            raise ConfigInvalid(f"{source}: logs.logs_collected.files.collect_list must be a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("file_path"), str):
                raise ConfigInvalid(f"{source}: collect_list[{index}] needs a file_path")
    return data


def _logging_enabled(read) -> bool:
    try:
        return json.loads(read(DNA) or "{}").get("cluster", {}).get("cw_logging_enabled") == "true"
    except ValueError:
        return False


def agent_state(read, listdir) -> tuple[str, list[str]]:
    """(status, config file paths in the order the agent merges them), from the node's files; `read(path)` gives a
    file's text or None, `listdir(path)` a directory's names or None."""
    try:
        state = json.loads(read(STATE) or "null")
    except ValueError:
        state = None
    names = listdir(AGENT_DIR)
    # Until a command says otherwise, the agent is as the bootstrap left it (ParallelCluster's append-config -s at
    # init, which runs only when the cluster's logging is enabled).
    status = (state or {}).get("status") or ("running" if _logging_enabled(read) else "stopped")
    if names is None:
        return status, [CONFIG]
    return status, [f"{AGENT_DIR}/{name}" for name in sorted(names) if not name.endswith(".tmp")]


def active_entries(read, listdir) -> list[dict]:
    """The collect_list entries the running agent follows (none when it is stopped); bad configs are skipped."""
    status, paths = agent_state(read, listdir)
    if status != "running":
        return []
    entries = []
    for path in paths:
        try:
            data = check_config(read(path) or "", path)
        except ConfigInvalid:
            continue
        files = ((data.get("logs") or {}).get("logs_collected") or {}).get("files") or {}
        entries += files.get("collect_list") or []
    return entries


# --- the command -----------------------------------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        with open(path) as source:
            return source.read()
    except OSError:
        return None


def _listdir(path: str) -> list[str] | None:
    try:
        return os.listdir(path)
    except OSError:
        return None


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(f"{path}.tmp", "w") as out:
        out.write(text)
    os.replace(f"{path}.tmp", path)


def _seed() -> None:
    """The first command finds the agent as the bootstrap started it: ParallelCluster's config appended."""
    if _listdir(AGENT_DIR) is None:
        os.makedirs(AGENT_DIR, exist_ok=True)
        if _logging_enabled(_read) and _read(CONFIG) is not None:
            _write(f"{AGENT_DIR}/file_{os.path.basename(CONFIG)}", _read(CONFIG))
            _set_state("running")


def _set_state(status: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    _write(STATE, json.dumps({"status": status, "starttime": stamp if status == "running" else ""}) + "\n")


def _source(location: str | None) -> tuple[str, str]:
    """(name in AGENT_DIR, path) of `-c file:PATH`; other locations (ssm:, default) need AWS."""
    if not location or not location.startswith("file:"):
        raise ConfigInvalid(f"-c {location or '(missing)'}: only file:PATH configs are available on this node "
                            "(ssm: parameters and the default config need AWS)")
    path = location[len("file:"):]
    return f"file_{os.path.basename(path)}", path


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="amazon-cloudwatch-agent-ctl")
    parser.add_argument("-a", dest="action", required=True,
                        choices=("fetch-config", "append-config", "remove-config", "start", "stop", "status",
                                 "prep-restart", "cond-restart"))
    parser.add_argument("-m", dest="mode", default="ec2", choices=("ec2", "onPremise", "onPrem", "auto"))
    parser.add_argument("-c", dest="config")
    parser.add_argument("-s", dest="restart", action="store_true", help="restart the agent after the change")
    parser.add_argument("-o", dest="otel_config", help="accepted, not used")
    args = parser.parse_args(argv)
    _seed()
    try:
        if args.action in ("fetch-config", "append-config", "remove-config"):
            name, path = _source(args.config)
            if args.action == "remove-config":
                _remove(f"{AGENT_DIR}/{name}")
            else:
                text = _read(path)
                if text is None:
                    raise ConfigInvalid(f"cannot read {path}")
                check_config(text, path)
                if args.action == "fetch-config":
                    for old in _listdir(AGENT_DIR) or []:
                        _remove(f"{AGENT_DIR}/{old}")
                _write(f"{AGENT_DIR}/{name}", text)
                print(f"Successfully fetched the config and saved in {AGENT_DIR}/{name}")
            if args.restart:
                _set_state("running")
        elif args.action in ("start", "cond-restart"):
            _set_state("running")
        elif args.action == "stop":
            _set_state("stopped")
        elif args.action == "status":
            status, paths = agent_state(_read, _listdir)
            print(json.dumps({"status": status,
                              "starttime": json.loads(_read(STATE) or "{}").get("starttime", ""),
                              "configstatus": "configured" if paths else "not configured",
                              "version": VERSION}, indent=2))
    except ConfigInvalid as err:
        print(f"E! {err}", file=sys.stderr)
        return 1
    return 0


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def main() -> None:
    raise SystemExit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
