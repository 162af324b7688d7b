"""Run loaded component documents on a node, AWSTOE's way, and survive the node's reboots.

The host loads each document (`paracluster.images.document`) and writes a plan: the documents as JSON, their
parameter values and the phases to run. This module runs inside the node with the system python3 and the standard
library only. For every document in order it runs the requested phases in document order and their steps in order,
with AWSTOE's semantics: `maxAttempts` reruns a failed step from the start (all loop iterations), `timeoutSeconds`
bounds one attempt, `onFailure` Abort stops the run, Continue goes on and fails the phase, Ignore goes on and counts as
success. A phase that failed ends the run.

Progress (every step's status, times, output tails and outputs, and the next step) is written to
`<work dir>/progress.json` after every change. A Reboot step, or a script exiting with 194, saves it and returns
status `rebootRequested`; run the same plan on the same work dir after the restart and it continues after the Reboot
step (or runs the 194 step again). Run it as `python3 -m paracluster.images.runner WORK_DIR` with the plan in
`WORK_DIR/plan.json`: exit 0 on success, 1 on failure, 194 when a reboot is requested, 2 on a bad plan.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import hashlib
import json
import os
import sys
from pathlib import Path

from paracluster.images import modules_files, modules_system, templating
from paracluster.images.execution import ActionFailed, RebootRequested, StepContext, now
from paracluster.images.transfer import DirectoryTransfer, NoTransfer

MODULES = {**modules_files.MODULES, **modules_system.MODULES}
PROGRESS = "progress.json"
CONSOLE = "console.log"
DEFAULT_MAX_REBOOTS = 10
REBOOT_EXIT = 194
DONE = ("success", "successWithIgnoredFailure", "failed")


class PlanError(ValueError):
    """The plan cannot be run (malformed, or another plan's progress is in the work dir)."""


def run(plan: dict, work_dir: str | Path, *, transfer=None, reboot=None, update_os=None) -> dict:
    """Run (or continue) a plan; return its progress. `reboot(delay_seconds)` is called when a restart is due."""
    return _Run(plan, Path(work_dir), transfer or NoTransfer(), reboot, update_os or modules_system.apt_update_os).go()


def load_progress(work_dir: str | Path) -> dict | None:
    path = Path(work_dir) / PROGRESS
    return json.loads(path.read_text()) if path.exists() else None


class _Run:
    def __init__(self, plan: dict, work_dir: Path, transfer, reboot, update_os):
        plan = _checked(plan)
        self.plan, self.work_dir = plan, work_dir
        self.transfer, self.reboot, self.update_os = transfer, reboot, update_os
        self.digest = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()
        self.cwd = plan.get("workingDirectory", "/")
        self.max_reboots = plan.get("maxReboots", DEFAULT_MAX_REBOOTS)

    def go(self) -> dict:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.work_dir / ".lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the file closes
            except BlockingIOError:
                raise PlanError(f"another runner is running the plan in {self.work_dir}") from None
            return self._go()

    def _go(self) -> dict:
        progress = load_progress(self.work_dir)
        if progress is None:
            progress = self._fresh()
        elif progress.get("planDigest") != self.digest:
            raise PlanError(f"{self.work_dir} holds the progress of another plan; use a new work directory")
        if progress["status"] in DONE:
            return progress
        self.progress = progress
        progress["status"] = "running"
        with open(self.work_dir / CONSOLE, "a") as self.console:
            self._save()
            self._execute()
        return self.progress

    def _fresh(self) -> dict:
        wanted = self.plan["phases"]
        documents = []
        for component in self.plan["components"]:
            document = component["document"]
            phases = [{"name": phase["name"], "status": "pending", "startTime": None, "endTime": None,
                       "failureMessage": "",
                       "steps": [{"name": step["name"], "action": step["action"], "status": "pending",
                                  "attempts": 0, "reboots": 0, "startTime": None, "endTime": None,
                                  "failureMessage": "", "stdoutTail": "", "stderrTail": "", "inputs": None,
                                  "outputs": None} for step in phase["steps"]]}
                      for phase in document["phases"] if phase["name"] in wanted]
            documents.append({"name": component.get("name") or document.get("name", ""),
                              "arn": component.get("arn"), "status": "pending", "startTime": None, "endTime": None,
                              "failureMessage": "", "phases": phases, "chaining": dict(component.get("chaining", {}))})
        return {"format": 1, "planDigest": self.digest, "status": "pending", "startTime": now(), "endTime": None,
                "failureMessage": "", "failure": None, "reboots": 0, "cursor": {"document": 0, "phase": 0, "step": 0},
                "documents": documents}

    def _save(self) -> None:
        path = self.work_dir / PROGRESS
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.progress, indent=1))
        os.replace(temporary, path)

    def _log(self, text: str) -> None:
        self.console.write(f"[{now()}] {text}\n")
        self.console.flush()

    def _execute(self) -> None:
        progress, cursor = self.progress, self.progress["cursor"]
        while cursor["document"] < len(progress["documents"]):
            record = progress["documents"][cursor["document"]]
            component = self.plan["components"][cursor["document"]]
            if record["status"] == "pending":
                record.update(status="running", startTime=now())
            try:
                variables = _variables(component)
            except ActionFailed as err:
                return self._finish_failed(record, None, None, str(err))
            while cursor["phase"] < len(record["phases"]):
                phase = record["phases"][cursor["phase"]]
                spec = next(item for item in component["document"]["phases"] if item["name"] == phase["name"])
                if phase["status"] == "pending":
                    phase.update(status="running", startTime=now())
                while cursor["step"] < len(phase["steps"]):
                    outcome = self._run_step(record, phase, spec["steps"][cursor["step"]],
                                             phase["steps"][cursor["step"]], variables)
                    if outcome == "reboot":
                        return None
                    if outcome == "abort":
                        return self._finish_failed(record, phase, phase["steps"][cursor["step"]], None)
                    cursor["step"] += 1
                    self._save()
                phase.update(status=_rollup(phase["steps"]), endTime=now())
                if phase["status"] == "failed":
                    failed = next(step for step in phase["steps"] if step["status"] == "failed")
                    return self._finish_failed(record, phase, failed, None)
                cursor.update(phase=cursor["phase"] + 1, step=0)
                self._save()
            record.update(status=_rollup(record["phases"]), endTime=now())
            cursor.update(document=cursor["document"] + 1, phase=0, step=0)
            self._save()
        progress.update(status=_rollup(progress["documents"]), endTime=now())
        self._log(f"run finished: {progress['status']}")
        self._save()
        return None

    def _finish_failed(self, record: dict, phase: dict | None, step: dict | None, message: str | None) -> None:
        """Fail the run at this point: the rest is skipped; the message names component, phase and step."""
        failure = {"component": record["name"], "phase": phase["name"] if phase else None,
                   "step": step["name"] if step else None, "action": step["action"] if step else None,
                   "stdoutTail": step["stdoutTail"] if step else "", "stderrTail": step["stderrTail"] if step else ""}
        if step is not None:
            message = (f"component {record['name']}, phase {phase['name']}, step {step['name']} ({step['action']}) "
                       f"failed: {step['failureMessage']}")
        else:
            message = f"component {record['name']} failed: {message}"
        self.progress["failure"] = {**failure, "message": message}
        for other in self.progress["documents"]:
            for other_phase in other["phases"]:
                for other_step in other_phase["steps"]:
                    if other_step["status"] in ("pending", "running"):
                        other_step["status"] = "skipped"
                if other_phase["status"] in ("pending", "running"):
                    other_phase["status"] = "skipped" if other_phase is not phase else "failed"
            if other["status"] in ("pending", "running"):
                other["status"] = "skipped" if other is not record else "failed"
        for item in (phase, record):
            if item is not None:
                item.update(status="failed", endTime=item["endTime"] or now(), failureMessage=message)
        self.progress.update(status="failed", endTime=now(), failureMessage=message)
        self._log(message)
        self._save()

    def _run_step(self, record: dict, phase: dict, spec: dict, step: dict, variables: dict) -> str:
        """Run one step with its attempts; return 'next', 'abort' or 'reboot'."""
        name = f"{record['name']} / {phase['name']} / {spec['name']} ({spec['action']})"
        if step["status"] == "running" and step["attempts"]:
            step["attempts"] -= 1  # the run stopped (the node died) during that attempt: it did not end, run it again
        step.update(status="running", startTime=step["startTime"] or now())
        context = templating.Context(variables, record["chaining"])
        log_dir = self.work_dir / "steps" / str(self.progress["cursor"]["document"]) / phase["name"] / spec["name"]
        while step["attempts"] < spec["maxAttempts"]:
            step["attempts"] += 1
            self._save()
            self._log(f"{name}: attempt {step['attempts']} of {spec['maxAttempts']}")
            ctx = StepContext(cwd=self.cwd, log_dir=log_dir, timeout=spec["timeoutSeconds"], transfer=self.transfer,
                              update_os=self.update_os, console=self.console)
            try:
                inputs, outputs = _attempt(spec, context, ctx)
            except RebootRequested as request:
                return self._reboot(name, spec, step, ctx, request)
            except ActionFailed as err:
                failure = str(err)
            except Exception as err:  # noqa: BLE001 - an action's own error (OSError, ...) fails the step, not the run
                failure = f"{type(err).__name__}: {err}"
            else:
                step.update(status="success", endTime=now(), failureMessage="", inputs=inputs, outputs=outputs)
                step["stdoutTail"], step["stderrTail"] = ctx.output_tails()
                record["chaining"][f"{phase['name']}.{spec['name']}"] = {"inputs": inputs, "outputs": [outputs]}
                self._log(f"{name}: success")
                return "next"
            step["failureMessage"] = failure
            step["stdoutTail"], step["stderrTail"] = ctx.output_tails()
            self._log(f"{name}: attempt {step['attempts']} failed: {failure}")
        return self._failed(step, spec)

    def _failed(self, step: dict, spec: dict) -> str:
        if spec["onFailure"] == "Ignore":
            step.update(status="ignoredFailure", endTime=now())
            return "next"
        step.update(status="failed", endTime=now())
        return "abort" if spec["onFailure"] == "Abort" else "next"

    def _reboot(self, name: str, spec: dict, step: dict, ctx: StepContext, request: RebootRequested) -> str:
        step["stdoutTail"], step["stderrTail"] = ctx.output_tails()
        if request.rerun:
            # Exit code 194: the instance restarts and this step runs again, not counted as an attempt.
            step["reboots"] += 1
            step["attempts"] -= 1
            if step["reboots"] > self.max_reboots:
                step["failureMessage"] = f"asked for a reboot {step['reboots']} times (at most {self.max_reboots})"
                step["attempts"] += 1
                return self._failed(step, spec)
            step["status"] = "pending"
        else:
            step.update(status="success", endTime=now(), failureMessage="", inputs=[], outputs={})
            self.progress["cursor"]["step"] += 1
        self.progress["reboots"] += 1
        self.progress["status"] = "rebootRequested"
        self._log(f"{name}: reboot requested (delay {request.delay_seconds} s); run again after the restart")
        self._save()
        if self.reboot is not None:
            self.reboot(request.delay_seconds)
        return "reboot"


def _attempt(spec: dict, context: templating.Context, ctx: StepContext) -> tuple[list, dict]:
    """Run the step's action once (every loop iteration); return its resolved inputs and its outputs."""
    module = MODULES.get(spec["action"])
    if module is None:
        raise ActionFailed(f"action '{spec['action']}' is not known to this runner")
    inputs = spec["inputs"]
    loop = spec.get("loop")
    if loop is None:
        resolved = templating.resolve(inputs, context)
        return _as_list(resolved), module(resolved, ctx) or {}
    collected: list[dict] = []
    for index, value in enumerate(_iterations(loop, context)):
        ctx.check_time()
        try:
            collected.append(module(templating.resolve(inputs, context.with_loop(loop["name"], index, value)), ctx)
                             or {})
        except ActionFailed as err:
            raise type(err)(f"loop iteration {index} ({value!r}) failed: {err}") from None
    # AWSTOE joins each output of the iterations with newlines (stdout "Hello" and "World" -> "Hello\nWorld").
    keys = [key for outputs in collected for key in outputs]
    outputs = {key: "\n".join(str(item[key]) for item in collected if key in item) for key in dict.fromkeys(keys)}
    return _as_list(templating.resolve(inputs, context)), outputs


def _iterations(loop: dict, context: templating.Context) -> list[str]:
    if "for" in loop:
        start, end, step = loop["for"]["start"], loop["for"]["end"], loop["for"]["updateBy"]
        return [str(value) for value in range(start, end + (1 if step > 0 else -1), step)]
    values = templating.resolve(loop["forEach"], context)
    if isinstance(values, dict):
        # Empty pieces (a trailing newline of a chained stdout) are not iterations.
        return [piece for piece in values["list"].split(values.get("delimiter", ",")) if piece]
    return [str(value) for value in values]


def _as_list(inputs: object) -> list:
    return inputs if isinstance(inputs, list) else [inputs]


def _variables(component: dict) -> dict[str, str]:
    """Constants, then parameters: the value the plan gives, else the default; unknown given names are ignored."""
    document, given = component["document"], component.get("parameters", {})
    values = {item["name"]: str(item["value"]) for item in document.get("constants", [])}
    for item in document.get("parameters", []):
        if item["name"] in given:
            values[item["name"]] = str(given[item["name"]])
        elif "default" in item:
            values[item["name"]] = str(item["default"])
        else:
            raise ActionFailed(f"parameter '{item['name']}' has no default and the plan gives it no value")
    return values


def _rollup(items: list[dict]) -> str:
    statuses = {item["status"] for item in items}
    if "failed" in statuses:
        return "failed"
    if statuses & {"ignoredFailure", "successWithIgnoredFailure"}:
        return "successWithIgnoredFailure"
    return "success"


# What a step of a plan may leave out (the loader always writes them; a hand-written plan may not).
STEP_DEFAULTS = {"inputs": {}, "onFailure": "Abort", "maxAttempts": 1, "timeoutSeconds": 7200, "loop": None}


def _checked(plan: object) -> dict:
    """A copy of the plan with every step complete; PlanError names what is missing."""
    if not isinstance(plan, dict) or not isinstance(plan.get("components"), list):
        raise PlanError("a plan is a JSON object with a 'components' list")
    if not isinstance(plan.get("phases"), list) or not all(isinstance(name, str) for name in plan["phases"]):
        raise PlanError("a plan names the phases to run in a 'phases' list, such as [\"build\"]")
    plan = json.loads(json.dumps(plan))
    for index, component in enumerate(plan["components"]):
        document = component.get("document") if isinstance(component, dict) else None
        if not isinstance(document, dict) or not isinstance(document.get("phases"), list):
            raise PlanError(f"components[{index}] has no loaded document (a 'document' with 'phases')")
        for phase in document["phases"]:
            for step in phase.get("steps", []):
                if not isinstance(step, dict) or not isinstance(step.get("name"), str) or "action" not in step:
                    raise PlanError(f"components[{index}] phase {phase.get('name')} has a step without name or "
                                    f"action")
                for key, default in STEP_DEFAULTS.items():
                    step.setdefault(key, default)
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m paracluster.images.runner", description=__doc__.splitlines()[0])
    parser.add_argument("work_dir", type=Path, help="directory holding plan.json; progress.json is written there")
    parser.add_argument("--buckets-dir", help="serve s3:// from this directory of buckets (<dir>/<bucket>/<key>)")
    parser.add_argument("--web-dir", help="serve http(s):// URLs from <dir>/<host>/<path>")
    parser.add_argument("--account-id", help="the owner of the buckets, checked against expectedBucketOwner")
    parser.add_argument("--apt-dir", help="UpdateOS takes package lists and packages from this directory's lists/ "
                                          "and archives/ (filled by a host with the route out the node lacks)")
    args = parser.parse_args(argv)
    transfer = DirectoryTransfer(args.buckets_dir, args.web_dir, args.account_id) if args.buckets_dir else None
    update_os = functools.partial(modules_system.apt_update_os, mirror=args.apt_dir) if args.apt_dir else None
    try:
        plan = json.loads((args.work_dir / "plan.json").read_text())
        progress = run(plan, args.work_dir, transfer=transfer, update_os=update_os)
    except (OSError, ValueError) as err:
        sys.stderr.write(f"failed to run the plan in {args.work_dir}: {err}\n")
        return 2
    status = progress["status"]
    sys.stderr.write(f"{status}{': ' + progress['failureMessage'] if progress['failureMessage'] else ''}\n")
    return {"rebootRequested": REBOOT_EXIT, "failed": 1}.get(status, 0)


if __name__ == "__main__":
    sys.exit(main())
