"""The node-side runner: chaining, loops, attempts, timeouts, onFailure, reboots and resuming, run for real."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from docrun import build_steps, plan_of, steps
from support import PROJECT
from paracluster.images import runner


def test_outputs_parameters_and_constants_chain_between_steps(run_docs, root):
    progress = run_docs("""\
        name: Chain
        schemaVersion: 1.0
        parameters:
          - Who:
              type: string
              default: world
          - Greeting:
              type: string
        constants:
          - Folder:
              type: string
              value: out
        phases:
          - name: build
            steps:
              - name: Hello
                action: ExecuteBash
                inputs:
                  commands:
                    - echo "{{ Greeting }}, {{ Who }}"
                    - echo to stderr >&2
              - name: Save
                action: CreateFile
                inputs:
                  - path: "{{ Folder }}/hello.txt"
                    content: "{{ build.Hello.outputs.stdout }}!"
              - name: Again
                action: ExecuteBash
                inputs:
                  commands:
                    - cat "{{ build.Save.inputs[0].path }}"
    """, parameters={"Greeting": "Hi", "Unused": "ignored"})
    assert progress["status"] == "success" and progress["failure"] is None
    records = steps(progress)
    assert records["build.Hello"]["outputs"] == {"stdout": "Hi, world"}
    assert records["build.Hello"]["stdoutTail"] == "Hi, world" and records["build.Hello"]["stderrTail"] == "to stderr"
    assert (root / "out" / "hello.txt").read_text() == "Hi, world!"
    assert records["build.Again"]["outputs"] == {"stdout": "Hi, world!"}
    assert records["build.Save"]["inputs"] == [{"path": "out/hello.txt", "content": "Hi, world!"}]
    for record in records.values():
        assert record["status"] == "success" and record["attempts"] == 1
        assert record["startTime"] <= record["endTime"]


def test_a_parameter_without_value_fails_the_component_before_any_step(run_docs):
    progress = run_docs("""\
        schemaVersion: 1.0
        parameters:
          - Needed:
              type: string
        phases:
          - name: build
            steps:
              - name: Never
                action: ExecuteBash
                inputs:
                  commands: ['echo "{{ Needed }}"']
    """)
    assert progress["status"] == "failed"
    assert progress["failureMessage"] == ("component comp1 failed: parameter 'Needed' has no default and the plan "
                                          "gives it no value")
    assert steps(progress)["build.Never"]["status"] == "skipped"


def test_loops_iterate_and_join_their_outputs(run_docs, root):
    progress = run_docs(build_steps("""\
              - name: Up
                action: ExecuteBash
                loop:
                  for: {start: 1, end: 5, updateBy: 2}
                inputs:
                  commands: ['echo "{{ loop.index }}:{{ loop.value }}"']
              - name: Down
                action: ExecuteBash
                loop:
                  name: countdown
                  for: {start: 3, end: 1, updateBy: -1}
                inputs:
                  commands: ['echo {{ countdown.value }}']
              - name: Files
                action: CreateFile
                loop:
                  forEach:
                    list: "{{ build.Down.outputs.stdout }}"
                    delimiter: "\\n"
                inputs:
                  - path: "n/{{ loop.value }}.txt"
                    content: "file {{ loop.index }}"
              - name: Each
                action: ExecuteBash
                loop:
                  name: item
                  forEach: [alpha, "{{ build.Up.outputs.stdout }}"]
                inputs:
                  commands: ['echo "[{{ item.value }}]"']
    """))
    assert progress["status"] == "success"
    records = steps(progress)
    assert records["build.Up"]["outputs"] == {"stdout": "0:1\n1:3\n2:5"}
    assert records["build.Down"]["outputs"] == {"stdout": "3\n2\n1"}
    assert sorted(path.name for path in (root / "n").iterdir()) == ["1.txt", "2.txt", "3.txt"]
    assert (root / "n" / "1.txt").read_text() == "file 2"
    assert records["build.Each"]["outputs"] == {"stdout": "[alpha]\n[0:1\n1:3\n2:5]"}


def test_a_failing_loop_iteration_fails_the_step_and_names_the_iteration(run_docs):
    progress = run_docs(build_steps("""\
              - name: Check
                action: ExecuteBash
                loop:
                  forEach: [ok, bad, never]
                inputs:
                  commands: ['echo checking {{ loop.value }}', 'test "{{ loop.value }}" != bad']
    """))
    record = steps(progress)["build.Check"]
    assert record["status"] == "failed"
    assert record["failureMessage"] == "loop iteration 1 ('bad') failed: the commands exited with code 1"
    assert record["stdoutTail"] == "checking ok\nchecking bad"  # the loop stopped at the failing iteration


def test_max_attempts_reruns_a_failed_step_until_it_succeeds(run_docs, root):
    progress = run_docs(build_steps("""\
              - name: Flaky
                action: ExecuteBash
                maxAttempts: 4
                inputs:
                  commands:
                    - echo x >> tries
                    - test $(wc -l < tries) -ge 3
    """))
    record = steps(progress)["build.Flaky"]
    assert progress["status"] == "success"
    assert record["status"] == "success" and record["attempts"] == 3 and record["failureMessage"] == ""
    assert (root / "tries").read_text() == "x\nx\nx\n"


BROKEN = """\
    name: Broken
    schemaVersion: 1.0
    phases:
      - name: build
        steps:
          - name: First
            action: ExecuteBash
            inputs:
              commands: [echo first >> log]
          - name: Fails
            action: ExecuteBash
            onFailure: {on_failure}
            maxAttempts: 2
            inputs:
              commands:
                - for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22; do echo line $i; done
                - echo oops >&2
                - exit 3
          - name: Last
            action: ExecuteBash
            inputs:
              commands: [echo last >> log]
      - name: validate
        steps:
          - name: Validate
            action: ExecuteBash
            inputs:
              commands: [echo validate >> log]
"""


def test_abort_stops_the_run_and_names_component_phase_step_and_output(run_docs, root):
    progress = run_docs(BROKEN.format(on_failure="Abort"), phases=("build", "validate"))
    records = steps(progress)
    assert progress["status"] == "failed"
    assert progress["failureMessage"] == ("component comp1, phase build, step Fails (ExecuteBash) failed: "
                                          "the commands exited with code 3")
    failure = progress["failure"]
    assert (failure["component"], failure["phase"], failure["step"], failure["action"]) == (
        "comp1", "build", "Fails", "ExecuteBash")
    assert failure["stdoutTail"].splitlines() == [f"line {i}" for i in range(3, 23)]  # the last 20 lines
    assert failure["stderrTail"] == "oops"
    assert records["build.Fails"]["attempts"] == 2
    assert [records[name]["status"] for name in ("build.First", "build.Fails", "build.Last", "validate.Validate")] == [
        "success", "failed", "skipped", "skipped"]
    phases = progress["documents"][0]["phases"]
    assert [phase["status"] for phase in phases] == ["failed", "skipped"]
    assert progress["documents"][0]["status"] == "failed"
    assert (root / "log").read_text() == "first\n"
    console = (root.parent / "work" / "console.log").read_text()
    assert "comp1 / build / Fails (ExecuteBash): attempt 2 failed: the commands exited with code 3" in console


def test_continue_runs_the_rest_of_the_phase_then_fails_the_run(run_docs, root):
    progress = run_docs(BROKEN.format(on_failure="Continue"), phases=("build", "validate"))
    records = steps(progress)
    assert [records[name]["status"] for name in ("build.First", "build.Fails", "build.Last", "validate.Validate")] == [
        "success", "failed", "success", "skipped"]
    assert progress["status"] == "failed" and progress["failure"]["step"] == "Fails"
    assert (root / "log").read_text() == "first\nlast\n"


def test_ignore_counts_as_success_with_an_ignored_failure(run_docs, root):
    progress = run_docs(BROKEN.format(on_failure="Ignore"), phases=("build", "validate"))
    records = steps(progress)
    assert records["build.Fails"]["status"] == "ignoredFailure"
    assert records["build.Fails"]["failureMessage"] == "the commands exited with code 3"
    assert [phase["status"] for phase in progress["documents"][0]["phases"]] == [
        "successWithIgnoredFailure", "success"]
    assert progress["status"] == "successWithIgnoredFailure" and progress["failureMessage"] == ""
    assert (root / "log").read_text() == "first\nlast\nvalidate\n"


def test_a_failed_component_skips_the_next_ones(run_docs, root):
    other = build_steps("""\
        - name: Other
          action: ExecuteBash
          inputs:
            commands: [echo other >> log]
    """)
    progress = run_docs(BROKEN.format(on_failure="Abort"), other)
    assert [document["status"] for document in progress["documents"]] == ["failed", "skipped"]
    assert steps(progress, 1)["build.Other"]["status"] == "skipped"
    assert progress["documents"][1]["name"] == "comp2"


def test_phases_run_in_document_order_whatever_the_plan_says(run_docs, root):
    progress = run_docs("""\
        schemaVersion: 1.0
        phases:
          - name: test
            steps:
              - name: T
                action: ExecuteBash
                inputs:
                  commands: [echo test >> order]
          - name: build
            steps:
              - name: B
                action: ExecuteBash
                inputs:
                  commands: [echo build >> order]
          - name: validate
            steps:
              - name: V
                action: ExecuteBash
                inputs:
                  commands: [echo validate >> order]
    """, phases=("build", "test"))
    assert progress["status"] == "success"
    assert (root / "order").read_text() == "test\nbuild\n"
    assert [phase["name"] for phase in progress["documents"][0]["phases"]] == ["test", "build"]


def _gone(pid: int) -> bool:
    """Whether a process is dead; SIGKILL takes effect asynchronously, so give it a moment."""
    for _ in range(100):
        try:
            with open(f"/proc/{pid}/status") as status:
                if "\nState:\tZ" in status.read():  # killed, waiting for its parent to reap it
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_timeout_kills_the_command_and_everything_it_started(run_docs, root):
    progress = run_docs(build_steps("""\
        - name: Hang
          action: ExecuteBash
          timeoutSeconds: 1
          inputs:
            commands:
              - sleep 300 &
              - echo $! > child.pid
              - echo started
              - sleep 300
    """))
    record = steps(progress)["build.Hang"]
    assert record["status"] == "failed" and record["failureMessage"] == "timed out after 1 s"
    assert record["stdoutTail"] == "started"
    assert _gone(int((root / "child.pid").read_text()))


REBOOTING = """\
    schemaVersion: 1.0
    phases:
      - name: build
        steps:
          - name: Before
            action: ExecuteBash
            inputs:
              commands: [echo before >> log, echo before-out]
          - name: Restart
            action: Reboot
            inputs:
              delaySeconds: 5
          - name: After
            action: ExecuteBash
            inputs:
              commands: ['echo "after {{ build.Before.outputs.stdout }}" >> log']
"""


def test_a_reboot_step_saves_progress_and_the_next_run_continues_after_it(run_docs, root, tmp_path):
    reboots = []
    first = run_docs(REBOOTING, reboot=reboots.append)
    assert first["status"] == "rebootRequested" and reboots == [5]
    assert runner.load_progress(tmp_path / "work")["status"] == "rebootRequested"
    records = steps(first)
    assert [records[name]["status"] for name in ("build.Before", "build.Restart", "build.After")] == [
        "success", "success", "pending"]
    second = run_docs(REBOOTING, reboot=reboots.append)
    assert second["status"] == "success" and reboots == [5] and second["reboots"] == 1
    assert (root / "log").read_text() == "before\nafter before-out\n"  # Before ran once; its output survived


def test_exit_194_restarts_and_runs_the_same_step_again(run_docs, root):
    document = build_steps("""\
              - name: NeedsRestart
                action: ExecuteBash
                maxAttempts: 1
                inputs:
                  commands:
                    - |
                      if [ -f marker ]; then echo second run; exit 0; fi
                      touch marker
                      exit 194
    """)
    reboots = []
    first = run_docs(document, reboot=reboots.append)
    assert first["status"] == "rebootRequested" and reboots == [0]
    assert steps(first)["build.NeedsRestart"]["status"] == "pending"
    second = run_docs(document, reboot=reboots.append)
    record = steps(second)["build.NeedsRestart"]
    assert second["status"] == "success" and reboots == [0]
    assert record["attempts"] == 1 and record["reboots"] == 1 and record["outputs"] == {"stdout": "second run"}


def test_a_step_that_always_asks_for_a_restart_fails(run_docs):
    document = build_steps("""\
              - name: Forever
                action: ExecuteBash
                inputs:
                  commands: [exit 194]
    """)
    statuses = [run_docs(document, maxReboots=2)["status"] for _ in range(4)]
    assert statuses == ["rebootRequested", "rebootRequested", "failed", "failed"]
    progress = run_docs(document, maxReboots=2)
    assert progress["failure"]["message"].endswith("failed: asked for a reboot 3 times (at most 2)")


def test_a_finished_run_is_not_run_again_and_a_work_dir_serves_one_plan(run_docs, root, tmp_path):
    document = build_steps("""\
              - name: Once
                action: ExecuteBash
                inputs:
                  commands: [echo once >> log]
    """)
    assert run_docs(document)["status"] == "success"
    assert run_docs(document)["status"] == "success"
    assert (root / "log").read_text() == "once\n"
    with pytest.raises(runner.PlanError, match="holds the progress of another plan"):
        run_docs(document.replace("once", "twice"))


def test_one_runner_at_a_time_per_work_dir(tmp_path, root):
    plan = plan_of(build_steps("""\
        - name: One
          action: ExecuteBash
          inputs:
            commands: [echo one >> log]
    """), root=root)
    (tmp_path / "work").mkdir()
    with open(tmp_path / "work" / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(runner.PlanError, match="another runner is running the plan in"):
            runner.run(plan, tmp_path / "work")
    assert runner.run(plan, tmp_path / "work")["status"] == "success"


def test_a_run_killed_mid_step_runs_that_step_again(tmp_path, root):
    plan = plan_of("""\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: One
                action: ExecuteBash
                inputs:
                  commands: [echo one >> log]
              - name: Two
                action: ExecuteBash
                inputs:
                  commands: [echo two >> log]
    """, root=root)
    work = tmp_path / "work"
    assert runner.run(plan, work)["status"] == "success"
    # What progress.json holds when the node died while Two was running.
    progress = runner.load_progress(work)
    two = progress["documents"][0]["phases"][0]["steps"][1]
    two.update(status="running", endTime=None, attempts=1)
    progress["documents"][0]["phases"][0].update(status="running", endTime=None)
    progress["documents"][0].update(status="running", endTime=None)
    progress.update(status="running", endTime=None, cursor={"document": 0, "phase": 0, "step": 1})
    (work / "progress.json").write_text(json.dumps(progress))
    resumed = runner.run(plan, work)
    assert resumed["status"] == "success" and (root / "log").read_text() == "one\ntwo\ntwo\n"
    assert steps(resumed)["build.Two"]["attempts"] == 1  # the interrupted attempt did not end, so it does not count


def test_validate_and_test_runs_can_chain_from_a_build_run(tmp_path, root):
    document = """\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: Version
                action: ExecuteBash
                inputs:
                  commands: [echo 2.1.0]
          - name: validate
            steps:
              - name: Check
                action: Assert
                inputs:
                  semVerEquals: 2.1.0
                  value: "{{ build.Version.outputs.stdout }}"
    """
    build = runner.run(plan_of(document, root=root), tmp_path / "build")
    plan = plan_of(document, phases=("validate",), root=root)
    plan["components"][0]["chaining"] = build["documents"][0]["chaining"]
    validate = runner.run(plan, tmp_path / "validate")
    assert validate["status"] == "success" and list(steps(validate)) == ["validate.Check"]


def test_the_runner_needs_only_the_standard_library(tmp_path):
    """Nodes run it with the system python3, without PyYAML or anything else from the host's virtualenv."""
    code = ("import sys; sys.path.insert(0, 'src'); before = set(sys.modules); import paracluster.images.runner; "
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names))")
    result = subprocess.run(["/usr/bin/python3", "-I", "-c", code], cwd=PROJECT, capture_output=True, text=True,
                            check=True)
    assert all(name.startswith("paracluster") for name in eval(result.stdout))  # noqa: S307 - our own output


def _write_plan(work: Path, root: Path, command: str) -> None:
    work.mkdir()
    plan = plan_of(f"""\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: Run
                action: ExecuteBash
                inputs:
                  commands: ['{command}']
    """, root=root)
    (work / "plan.json").write_text(json.dumps(plan))


@pytest.mark.parametrize("command, code, message", [
    ("true", 0, "success\n"),
    ("exit 4", 1, "failed: component comp1, phase build, step Run (ExecuteBash) failed: the commands exited with "
                  "code 4\n"),
    ("exit 194", 194, "rebootRequested\n"),
])
def test_the_command_line_runs_a_work_dir_with_exit_codes(tmp_path, root, command, code, message):
    _write_plan(tmp_path / "work", root, command)
    env = {**os.environ, "PYTHONPATH": str(PROJECT / "src")}
    result = subprocess.run(["/usr/bin/python3", "-m", "paracluster.images.runner", str(tmp_path / "work")],
                            capture_output=True, text=True, env=env)
    assert (result.returncode, result.stderr) == (code, message)
    assert runner.load_progress(tmp_path / "work")["status"] == message.split(":")[0].strip()


def test_a_hand_written_plan_gets_awstoe_defaults(tmp_path, root):
    plan = {"phases": ["build"], "workingDirectory": str(root), "components": [{"document": {"name": "Hand", "phases": [
        {"name": "build", "steps": [{"name": "Only", "action": "ExecuteBash",
                                     "inputs": {"commands": ["echo by hand"]}}]}]}}]}
    progress = runner.run(plan, tmp_path / "work")
    assert progress["documents"][0]["name"] == "Hand"
    assert steps(progress)["build.Only"]["outputs"] == {"stdout": "by hand"}
    with pytest.raises(runner.PlanError, match="phase build has a step without name or action"):
        runner.run({"phases": ["build"], "components": [{"document": {"phases": [
            {"name": "build", "steps": [{"name": "NoAction"}]}]}}]}, tmp_path / "other")


def test_the_command_line_refuses_a_bad_plan(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "plan.json").write_text('{"components": "none"}')
    assert runner.main([str(tmp_path / "work")]) == 2
    assert runner.main([str(tmp_path / "missing")]) == 2
