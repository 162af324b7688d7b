"""The node-side custom action runner and bootstrap phases, run on the host against temporary files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from paracluster.node import actions, agent


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_bytes(body.encode())
    return str(path)


@pytest.fixture()
def error_file(tmp_path, monkeypatch):
    path = tmp_path / "log" / "bootstrap_error_msg"
    monkeypatch.setattr(actions, "ERROR_FILE", str(path))
    return path


def test_bash_array_quotes_like_parallelcluster():
    assert actions.bash_array([]) == "()"
    assert actions.bash_array(["a", "two words", 'say "hi"']) == '("a" "two words" "say \\"hi\\"")'


def test_event_variables_describe_the_running_script_and_the_first_of_the_others():
    steps = {"OnNodeStart": [{"url": "s3://b/1.sh", "args": ["x"]}, {"url": "s3://b/2.sh", "args": []}],
             "OnNodeConfigured": [{"url": "https://h/c.sh", "args": ["y", "z"]}]}
    env = actions.event_environment(steps, "OnNodeStart", steps["OnNodeStart"][1])
    assert env["cfn_preinstall"] == "s3://b/2.sh" and env["cfn_preinstall_args"] == "()"
    assert env["cfn_postinstall"] == "https://h/c.sh" and env["cfn_postinstall_args"] == '("y" "z")'
    assert env["cfn_postupdate"] == "" and env["cfn_postupdate_args"] == "()"


def test_scripts_run_in_order_with_args_crlf_and_environment(tmp_path, error_file):
    out = tmp_path / "out.txt"
    first = _script(tmp_path, "one", f'#!/bin/bash\r\necho "one $# $1 $cfn_postinstall" >> {out}\r\n')
    second = _script(tmp_path, "two", f'echo "two $*" >> {out}\n')  # no interpreter line: run with bash
    steps = {"OnNodeConfigured": [{"url": "s3://b/one", "args": ["a b"], "file": first},
                                  {"url": "s3://b/two", "args": ["c", "d"], "file": second}]}
    log = io.StringIO()
    ran = actions.run_event(steps, "OnNodeConfigured", base_env={"PATH": "/usr/bin:/bin"}, log=log,
                            error_info={"node_type": "ComputeNode"})
    assert ran == 2
    assert out.read_text().splitlines() == ["one 1 a b s3://b/one", "two c d"]
    assert "sha256" in log.getvalue() and not error_file.exists()


def test_a_failing_script_stops_the_event_and_reports_exit_code_and_output(tmp_path, error_file):
    out = tmp_path / "out.txt"
    bad = _script(tmp_path, "bad", "#!/bin/sh\necho starting\necho 'no license' >&2\nexit 7\n")
    never = _script(tmp_path, "never", f"#!/bin/sh\ntouch {out}\n")
    steps = {"OnNodeStart": [{"url": "s3://b/bad", "args": [], "file": bad},
                             {"url": "s3://b/never", "args": [], "file": never}]}
    with pytest.raises(actions.ActionFailed) as failure:
        actions.run_event(steps, "OnNodeStart", base_env={"PATH": "/usr/bin:/bin"}, log=io.StringIO(),
                          error_info={"node_type": "ComputeNode", "queue_name": "q"})
    message = str(failure.value)
    assert "s3://b/bad (step 1 of 2)" in message and "exited with code 7" in message
    assert "starting | no license" in message
    assert not out.exists()
    event = json.loads(error_file.read_text())
    assert event["event-type"] == "custom-action-error"
    assert event["detail"]["stage"] == "executing" and event["detail"]["error"]["exit_code"] == 7
    assert event["detail"]["queue_name"] == "q"


def test_a_script_that_could_not_be_fetched_fails_in_the_downloading_stage(error_file):
    steps = {"OnNodeStart": [{"url": "s3://b/gone", "args": [], "error": "object s3://b/gone does not exist"}]}
    with pytest.raises(actions.ActionFailed, match="failed to fetch OnNodeStart script s3://b/gone: object"):
        actions.run_event(steps, "OnNodeStart", base_env={}, log=io.StringIO(), error_info={"node_type": "HeadNode"})
    assert error_file.read_text().startswith("failed to fetch")  # the head node writes text


class _Services:
    def __init__(self):
        self.started = []

    def ensure(self, service):
        if service["name"] in self.started:
            return False
        self.started.append(service["name"])
        return True


def test_phases_run_in_parallelcluster_order_and_a_second_run_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(agent, "MARKS", str(tmp_path / "marks"))
    order = tmp_path / "order"
    script = _script(tmp_path, "s", f"#!/bin/sh\necho $1 >> {order}\n")
    spec = {
        "role": "ComputeNode",
        "files": [{"path": str(tmp_path / "etc" / "f.conf"), "content": "x\n", "mode": 0o600}],
        "actions": {"OnNodeStart": [{"url": "s3://b/s", "args": ["start"], "file": script}],
                    "OnNodeConfigured": [{"url": "s3://b/s", "args": ["configured"], "file": script}]},
        "services": [{"name": "munged"}, {"name": "slurmd", "phase": "finalize"}],
    }
    services = _Services()
    phases = []
    done = agent.bootstrap(agent.Agent(spec, services, io.StringIO()), on_phase=phases.append)
    assert phases == [name for name, _ in agent.PHASES]
    assert order.read_text().split() == ["start", "configured"]
    assert services.started == ["munged", "slurmd"]
    assert dict(done)["finalize"] == ["started slurmd"]
    again = agent.bootstrap(agent.Agent(spec, services, io.StringIO()))
    assert all(not changes for _, changes in again)
    assert order.read_text().split() == ["start", "configured"]
