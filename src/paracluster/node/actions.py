"""Run a node's custom action scripts (OnNodeStart, OnNodeConfigured, OnNodeUpdated) with ParallelCluster's contract.

Scripts were fetched by the host into the node's directory. Each runs as root, in order, with its Args, after its
line endings are converted (ParallelCluster runs dos2unix) and with the `cfn_*` variables of its event in the
environment. The first failure stops the event and fails the node's bootstrap; the reason names the script, its
exit code and the last lines of its output. Only the standard library is used: this runs inside nodes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile

ERROR_FILE = "/var/log/parallelcluster/bootstrap_error_msg"
TAIL_LINES = 5
# The cfn_* variable name of each event, as in /etc/parallelcluster/cfnconfig.
EVENT_VARIABLES = {"OnNodeStart": "cfn_preinstall", "OnNodeConfigured": "cfn_postinstall",
                   "OnNodeUpdated": "cfn_postupdate"}


class ActionFailed(Exception):
    """A custom action script could not be fetched or exited non-zero; str() is the one-line reason."""


def bash_array(args: list[str]) -> str:
    """Args as the bash array literal ParallelCluster puts in cfn_*_args: ("a" "b")."""
    quoted = " ".join('"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"' for arg in args)
    return f"({quoted})"


def event_environment(actions: dict[str, list[dict]], event: str, step: dict) -> dict[str, str]:
    """cfn_preinstall/_args & co: the first script of each event, and the current one for the running event."""
    env = {}
    for name, variable in EVENT_VARIABLES.items():
        current = step if name == event else (actions.get(name) or [{}])[0]
        env[variable] = current.get("url", "")
        env[f"{variable}_args"] = bash_array(current.get("args", []))
    return env


def run_event(actions: dict[str, list[dict]], event: str, *, base_env: dict[str, str], log, error_info: dict) -> int:
    """Run every script of `event` in order; return how many ran; raise ActionFailed on the first failure."""
    steps = actions.get(event, [])
    for index, step in enumerate(steps, 1):
        where = f"{event} script {step['url']}" + (f" (step {index} of {len(steps)})" if len(steps) > 1 else "")
        if "error" in step:
            _fail(where, "downloading", step["error"], error_info, log, {"status_code": None})
        with open(step["file"], "rb") as source:
            body = source.read().replace(b"\r\n", b"\n")  # what dos2unix does to the script
        log.write(f"running {where} with args {step['args']} (sha256 {hashlib.sha256(body).hexdigest()})\n")
        log.flush()
        with tempfile.NamedTemporaryFile("wb", prefix="paracluster-action-", delete=False) as script:
            script.write(body)
        os.chmod(script.name, 0o700)
        argv = [script.name, *step["args"]]
        if not body.startswith(b"#!"):
            argv = ["/bin/bash", *argv]  # no interpreter line: ParallelCluster's scripts are bash
        env = {**base_env, **event_environment(actions, event, step)}
        with tempfile.TemporaryFile("w+", prefix="paracluster-action-out-") as output:
            try:
                code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                      env=env, cwd="/", check=False).returncode
            except OSError as err:
                code, _ = 126, output.write(f"{err}\n")
            finally:
                os.unlink(script.name)
            output.seek(0)
            text = output.read()
        log.write(text)
        log.write(f"{where} exited with code {code}\n")
        log.flush()
        if code != 0:
            tail = " | ".join([line for line in text.splitlines() if line.strip()][-TAIL_LINES:])
            _fail(where, "executing", f"exited with code {code}" + (f"; last output: {tail}" if tail else ""),
                  error_info, log, {"exit_code": code, "stderr": tail})
    return len(steps)


def _fail(where: str, stage: str, cause: str, error_info: dict, log, error: dict) -> None:
    message = f"failed to run {where}: {cause}" if stage == "executing" else f"failed to fetch {where}: {cause}"
    log.write(message + "\n")
    log.flush()
    # The error file ParallelCluster writes: text on the head node, a JSON event on compute and login nodes.
    os.makedirs(os.path.dirname(ERROR_FILE), exist_ok=True)
    with open(ERROR_FILE, "w") as out:
        if error_info.get("node_type") == "HeadNode":
            out.write(message + "\n")
        else:
            event = {"event-type": "custom-action-error", "message": message,
                     "detail": {"action": where.split()[0], "stage": stage, "error": error, **error_info}}
            out.write(json.dumps(event) + "\n")
    raise ActionFailed(message)
