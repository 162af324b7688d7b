"""An image build on the local provider: a literal list of steps, each a CloudFormation-style event of the build.

As EC2 Image Builder does, the build stage boots a build node from the parent image and runs the components' build
and validate phases there (UpdateAndReboot first when UpdateOsPackages is enabled; a Reboot step restarts the node
and the runner goes on after it); what the node changed becomes the image's layer (the snapshot). The test stage
boots a test node from the new image and runs the test phases. A failed step ends the build as BUILD_FAILED with the
component, phase, step and the end of its output; its layer and nodes go, unless TerminateInstanceOnFailure is
false, which keeps the failed node running for debugging. The host's own lines and the runners' console logs make
the build's log stream (logs.py).
"""

from __future__ import annotations

import json
import logging
import shutil

from paracluster.errors import ClusterError
from paracluster.providers.local.host import events
from paracluster.providers.local.images import layer, nodes
from paracluster.providers.local.images.store import ImageState, ImageStore
from paracluster.records import now

LOG = logging.getLogger("paracluster.local")
BUILD, TEST = "build", "test"
# Image Builder's stages: build and validate phases on the build instance, before the snapshot; test after it.
STAGE_PHASES = {BUILD: ["build", "validate"], TEST: ["test"]}
MAX_REBOOTS = 10

class BuildFailed(ClusterError):
    """A step of the build failed; str() is the reason describe-image shows."""


def stack_arn(record: ImageState) -> str:
    return f"arn:paracluster:local:{record.region}:image/{record.image_id}"


class Build:
    """One build under way: its record, configuration, events and nodes."""

    def __init__(self, store: ImageStore, image_id: str, settings):
        from paracluster.config.load import load_config_text
        from paracluster.config.schema import IMAGE_CONFIG
        self.store, self.image_id, self.settings = store, image_id, settings
        self.dir = store.image_dir(image_id)
        self.record = store.load(image_id)
        self.config = load_config_text(IMAGE_CONFIG, (self.dir / "image-config.yaml").read_text()).config
        self.events = events.StepEvents(self.dir, image_id, stack_arn(self.record), "CREATE")
        self.pids: dict[str, int] = {}
        self.done: list[str] = []
        self.baseline: dict[str, str] = {}

    def log(self, text: str) -> None:
        """A line of the build's own log (the host's side of the build log stream)."""
        with open(self.dir / "build.log", "a") as out:
            out.write(f"[{now()}] {text}\n")

    def change(self, **fields) -> None:
        def apply(record: ImageState) -> None:
            for key, value in fields.items():
                setattr(record, key, value)

        self.record = self.store.update(self.image_id, apply)

    # --- the steps ----------------------------------------------------------------------------------------------

    def recipe(self) -> None:
        """Resolve the parent image and every component; fetch what the nodes cannot reach; write the runners'
        plans."""
        from paracluster.providers.local.images.recipe import components

        parent = self.store.resolve(self.config.build.parent_image)
        self.change(os=parent.os, architecture=parent.architecture, layers=parent.layers)
        planned = components(self.config, self.store.state, self.settings["account_id"], self.dir, self.log)
        for stage, phases in STAGE_PHASES.items():
            folder = nodes.work_dir(self.store, self.image_id, stage, stage)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "plan.json").write_text(json.dumps({"components": planned, "phases": phases,
                                                          "maxReboots": MAX_REBOOTS}, indent=1))
        self.log(f"recipe: parent image {parent.ami_id} ({parent.os}, {parent.architecture}), "
                 f"{len(planned)} component(s): {', '.join(item['name'] for item in planned) or 'none'}")

    def boot_build_node(self) -> None:
        self.change(builder_status="BUILDING")
        self._boot(BUILD, self.record.layers)
        # What booting the node wrote into its upper layer, which capture() leaves out of the image's layer.
        self.baseline = layer.snapshot(self.store.build_dir(self.image_id, BUILD) / "upper")

    def build_phases(self) -> None:
        if self.config.build.update_os_packages.enabled:
            from paracluster.providers.local.images.packages import prepare

            prepare(self.pids[BUILD], self.dir / "apt", self.log)
        self._run(BUILD)

    def capture(self) -> None:
        """Stop the build node; its upper layer, less what booting and running it wrote, becomes the image's
        layer."""
        self._stop(BUILD)
        upper = self.store.build_dir(self.image_id, BUILD) / "upper"
        left_out = layer.clean(upper, self.baseline)
        target = self.store.layer_dir(self.record.ami_id)
        upper.rename(target)
        self.change(layers=[self.record.ami_id, *self.record.layers], image_time=now())
        self.log(f"captured the build node's changes as layer {target.name} (left out {len(left_out)} entries the "
                 "node's boot and runtime wrote)")

    def boot_test_node(self) -> None:
        self.change(builder_status="TESTING")
        if not self._has_tests():
            self.log("no component has a test phase: no test node")
            return
        self._boot(TEST, self.record.layers)

    def test_phase(self) -> None:
        if self._has_tests():
            self._run(TEST)
            self._stop(TEST)

    STEPS = (
        ("ImageRecipe", "resolve the parent image and the components", recipe),
        ("BuildInstance", "boot the build node from the parent image", boot_build_node),
        ("BuildPhase", "run the components' build and validate phases", build_phases),
        ("ImageLayer", "capture the build node's changes as the image's layer", capture),
        ("TestInstance", "boot a test node from the new image", boot_test_node),
        ("TestPhase", "run the components' test phases", test_phase),
    )

    # --- helpers ----------------------------------------------------------------------------------------------------

    def _has_tests(self) -> bool:
        plan = json.loads((nodes.work_dir(self.store, self.image_id, TEST, TEST) / "plan.json").read_text())
        return any(phase["name"] == "test" for item in plan["components"] for phase in item["document"]["phases"])

    def _boot(self, role: str, layers: list[str], fresh: bool = True) -> None:
        lower = self.store.lower_dirs(layers)
        self.pids[role] = nodes.boot(self.store, self.image_id, role, lower, self.settings["account_id"],
                                     float(self.settings["local.node_start_timeout"]), fresh)
        self.log(f"{role} node running (PID {self.pids[role]}) over {len(layers)} layer(s) and the host's root")

    def _stop(self, role: str) -> None:
        nodes.stop(self.store, self.image_id, role, self.pids.pop(role, None))

    def _run(self, role: str) -> None:
        """Run the stage's plan in the node to its end, restarting the node whenever a step asks for a reboot."""
        for _ in range(MAX_REBOOTS + 1):
            code = nodes.run_stage(self.store, self.image_id, role, role, self.pids[role], self._progress)
            if code != nodes.REBOOT_EXIT:
                break
            self.log(f"{role} node: a step asked for a reboot; restarting the node")
            self._stop(role)
            self._boot(role, self.record.layers, fresh=False)
        progress = json.loads((nodes.work_dir(self.store, self.image_id, role, role) / "progress.json").read_text()
                              ) if code in (0, 1) else {}
        if code == 0:
            self.log(f"{role} stage: {progress.get('status')}")
            return
        raise BuildFailed(_failure_reason(progress) if code == 1 else
                          f"the runner of the {role} stage stopped with exit code {code}; see the build log")

    def _progress(self, progress: dict) -> None:
        step = nodes.progress_step(progress)
        if step and step != self.record.progress:
            self.change(progress=step)

    # --- the whole build --------------------------------------------------------------------------------------

    def run(self) -> None:
        self.log(f"build of image {self.image_id} ({self.record.ami_id}) started")
        for logical_id, description, step in self.STEPS:
            self.change(progress=description)
            self.events.started(logical_id, description)
            try:
                step(self)
            except Exception as err:  # noqa: BLE001 - whatever stops a step ends the build as BUILD_FAILED
                if isinstance(err, ClusterError):
                    reason = str(err)
                else:
                    reason = f"{type(err).__name__}: {err}"
                    LOG.exception("image %s: %s failed", self.image_id, logical_id)
                self.fail(logical_id, reason)
                return
            self.events.done(logical_id)
            self.done.append(logical_id)
        self.finish()

    def finish(self) -> None:
        shutil.rmtree(self.store.build_dir(self.image_id, TEST).parent, ignore_errors=True)
        self.change(build_status="BUILD_COMPLETE", stack_status="CREATE_COMPLETE", builder_status="AVAILABLE",
                    progress=None)
        self.events.stack("CREATE_COMPLETE")
        self.log(f"image {self.image_id} is available as {self.record.ami_id}")

    def fail(self, logical_id: str, reason: str) -> None:
        """End the build as BUILD_FAILED: no layer; no node unless TerminateInstanceOnFailure is false."""
        self.events.failed(logical_id, reason)
        self.log(f"{logical_id} failed: {reason}")
        keep = not self.record.terminate_on_failure and not self.record.rollback_on_failure
        kept = None
        for role in (BUILD, TEST):
            pid = self.pids.get(role)
            if keep and pid is not None:
                kept = {"role": role, "pid": pid, "namespace": nodes.netns_name(self.image_id, role)}
                self.log(f"the {role} node stays up for debugging (TerminateInstanceOnFailure: false): enter it with "
                         f"`nsenter -t {pid} -a`; delete-image removes it")
            else:
                self._stop(role)  # also a namespace whose node never came up
        if self.record.ami_id in self.record.layers:
            self.change(layers=self.record.layers[1:])  # the new layer goes (collect_garbage removes it)
        if kept is None:
            shutil.rmtree(self.store.build_dir(self.image_id, BUILD).parent, ignore_errors=True)
        stack_reason = f"The following resource(s) failed to create: [{logical_id}]. "
        stack_status = "CREATE_FAILED"
        if self.record.rollback_on_failure:
            # As CloudFormation rolls back: the resources made so far are deleted, newest first.
            stack_reason += "Rollback requested by user."
            self.events.stack("ROLLBACK_IN_PROGRESS", stack_reason)
            for done in reversed(self.done):
                events.add(self.dir, self.image_id, stack_arn(self.record), "DELETE_COMPLETE", done)
            self.events.stack("ROLLBACK_COMPLETE")
            stack_status = "ROLLBACK_COMPLETE"
        else:
            self.events.stack("CREATE_FAILED", stack_reason)
        self.change(build_status="BUILD_FAILED", stack_status=stack_status, builder_status="FAILED",
                    builder_reason=reason, stack_reason=stack_reason, progress=None, kept_node=kept)
        self.store.collect_garbage()


def _failure_reason(progress: dict) -> str:
    """The runner's failure (component, phase, step, message) and the last lines of the step's output."""
    failure = progress.get("failure") or {}
    message = failure.get("message") or progress.get("failureMessage") or "the runner reported a failure"
    output = (failure.get("stderrTail") or failure.get("stdoutTail") or "").strip().splitlines()[-3:]
    reason = f"{message}; last output: {' / '.join(output)}" if output else message
    return reason[:1000]


def cleanup(store: ImageStore, record: ImageState) -> None:
    """Stop whatever nodes of this image still run (a kept failed node, a build cut short) and drop its build dirs."""
    for role in (BUILD, TEST):
        nodes.stop(store, record.image_id, role)
    shutil.rmtree(store.build_dir(record.image_id, BUILD).parent, ignore_errors=True)


def run_build(store: ImageStore, image_id: str, settings) -> None:
    """Run a build from its first step (the host service calls this in a thread of its own)."""
    Build(store, image_id, settings).run()


def interrupted(store: ImageStore, record: ImageState) -> None:
    """A build the host service left under way (it restarted): end it as failed; nothing of it stays."""
    cleanup(store, record)
    reason = "the host service restarted during the build; build the image again"

    def failed(current: ImageState) -> None:
        current.build_status, current.stack_status, current.builder_status = "BUILD_FAILED", "CREATE_FAILED", "FAILED"
        current.builder_reason, current.progress = reason, None
        current.layers = [ami for ami in current.layers if ami != current.ami_id]

    store.update(record.image_id, failed)
