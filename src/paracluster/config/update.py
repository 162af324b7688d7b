"""update-cluster's change plan (pure): what differs between two configs, each change's update policy, and its verdict.

The diff walks the key tree, not the checked view, so defaults a file leaves implied never show up as changes (as
ParallelCluster's ConfigPatch compares the files as written). Lists of sections are matched by their key (`Name` for
queues, compute resources, storage and pools; `Key` for tags, ...); an item only on one side is one change of the
whole item. A section added or removed is one change with the section's policy, except IGNORED sections, whose
keys are compared one by one. Each change then gets ParallelCluster's verdict from its policy and the cluster's
running state (`FleetFacts`): SUCCEEDED, ACTION NEEDED or FAILED, with ParallelCluster's reason and action.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from paracluster.config.schema import types as policies
from paracluster.config.schema.types import ListOf, Section

SUCCEEDED, ACTION_NEEDED, FAILED = "SUCCEEDED", "ACTION NEEDED", "FAILED"
DEFAULT_MIN_COUNT, DEFAULT_MAX_COUNT = 0, 10
# Storage that nodes can mount or unmount while they run (ParallelCluster: STORAGE_TYPES_SUPPORTING_LIVE_UPDATES).
LIVE_STORAGE_TYPES = ("Efs", "FsxLustre", "FsxOntap", "FsxOpenZfs", "FileCache")
EXTERNAL_STORAGE_KEYS = ("FileSystemId", "VolumeId", "FileCacheId")
# ExtraChefAttributes that ParallelCluster 3.15+ lets an update change (DevSettings, update policy EXTRA_CHEF_ATTRIBUTES).
UPDATABLE_CHEF_ATTRIBUTES = ("cluster.slurm.reconfigure_timeout", "cluster.cluster_readiness_check_enabled",
                             "cluster.cluster_readiness_check_ignore_failure")


@dataclass(frozen=True)
class Change:
    """One difference between the configs: the sections above it, its key, both values (None: absent)."""

    path: tuple[str, ...]
    key: str
    old: object
    new: object
    policy: str
    is_list: bool = False

    @property
    def parameter(self) -> str:
        """ParallelCluster's name of the change: `Scheduling.SlurmQueues[q1].ComputeResources[cr1].MaxCount`."""
        return ".".join((*self.path, self.key))

    def named(self, kind: str) -> str | None:
        """The name of the queue (`SlurmQueues`), compute resource or pool the change is under, if any."""
        for part in self.path:
            match = re.fullmatch(rf"{kind}\[(.+)\]", part)
            if match:
                return match.group(1)
        return None

    @property
    def under_queues(self) -> bool:
        return any(part.startswith("SlurmQueues[") for part in self.path)

    @property
    def added(self) -> bool:
        return self.old is None and self.new is not None

    @property
    def removed(self) -> bool:
        return self.old is not None and self.new is None


@dataclass(frozen=True)
class FleetFacts:
    """What the policies look at besides the configs: the compute fleet and the running login nodes per pool."""

    compute_running: bool  # the compute fleet is not STOPPED
    login_nodes: dict[str, int] = field(default_factory=dict)  # pool -> login nodes running
    scheduler: str = "slurm"

    def login_running(self, pool: str | None = None) -> bool:
        return any(count for name, count in self.login_nodes.items() if pool in (None, name))


@dataclass(frozen=True)
class Verdict:
    """A change with its check result, and ParallelCluster's reason and action when it is not SUCCEEDED."""

    change: Change
    check: str
    reason: str | None = None
    action: str | None = None
    printed: bool = True

    @property
    def message(self) -> str:
        """updateValidationErrors' message: the reason, then the action needed."""
        reason = self.reason if self.reason and self.reason != "-" else None
        if reason and self.action:
            return f"{reason}. {self.action}"
        return reason or self.action or "Error during update"


@dataclass(frozen=True)
class UpdatePlan:
    """Every change of an update with its verdict, and the queue update strategy the new config asks for."""

    verdicts: tuple[Verdict, ...]
    queue_update_strategy: str = "COMPUTE_FLEET_STOP"

    @property
    def rows(self) -> list[Verdict]:
        """The changes ParallelCluster reports (IGNORED ones and allowed READ_ONLY ones are not shown)."""
        return [verdict for verdict in self.verdicts if verdict.printed]

    @property
    def allowed(self) -> bool:
        return all(verdict.check == SUCCEEDED for verdict in self.verdicts)

    @property
    def errors(self) -> list[Verdict]:
        return [verdict for verdict in self.rows if verdict.check != SUCCEEDED]

    def policies(self) -> set[str]:
        return {verdict.change.policy for verdict in self.verdicts}


# --- the diff ------------------------------------------------------------------------------------------------------


def diff(spec: Section, old: dict | None, new: dict | None) -> list[Change]:
    """Every change between two configs as written (dicts), in key tree order."""
    changes: list[Change] = []
    _compare_section(spec, old or {}, new or {}, (), changes)
    return changes


def _compare_section(spec: Section, old: dict, new: dict, path: tuple[str, ...], changes: list[Change]) -> None:
    for key, field_spec in spec.fields.items():
        before, after = old.get(key), new.get(key)
        if isinstance(field_spec, ListOf) and isinstance(field_spec.item, Section):
            _compare_list(field_spec, key, before or [], after or [], path, changes)
        elif isinstance(field_spec, Section):
            if before and after:
                _compare_section(field_spec, before, after, (*path, key), changes)
            elif before or after:
                if field_spec.policy == policies.IGNORED:
                    _compare_section(field_spec, before or {}, after or {}, (*path, key), changes)
                else:
                    changes.append(Change(path, key, before or "-", after or "-", field_spec.policy))
        elif _plain(before) != _plain(after):
            changes.append(Change(path, key, before, after, field_spec.policy))


def _compare_list(spec: ListOf, key: str, old: list, new: list, path: tuple[str, ...], changes: list[Change]) -> None:
    """Items matched by the list's key; a list without one (custom action Sequences) is matched by position."""
    def ident(item: dict, index: int) -> object:
        return item.get(spec.key) if spec.key else index

    olds = {ident(item, index): item for index, item in enumerate(old)}
    seen = set()
    for index, item in enumerate(new):
        name = ident(item, index)
        if name in olds:
            seen.add(name)
            _compare_section(spec.item, olds[name], item, (*path, f"{key}[{name}]"), changes)
        else:
            changes.append(Change(path, key, None, item, spec.policy, is_list=True))
    for name, item in olds.items():
        if name not in seen:
            changes.append(Change(path, key, item, None, spec.policy, is_list=True))


def _plain(value: object) -> object:
    """A value without the loader's line numbers, for comparing."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# --- the verdicts --------------------------------------------------------------------------------------------------


class _Context:
    """What a policy check sees: all changes, both configs and the running state."""

    def __init__(self, changes: list[Change], old: dict, new: dict, facts: FleetFacts):
        self.changes = changes
        self.old = old
        self.new = new
        self.facts = facts
        settings = (new.get("Scheduling") or {}).get("SlurmSettings") or {}
        self.strategy = settings.get("QueueUpdateStrategy", "COMPUTE_FLEET_STOP")

    @property
    def strategy_set(self) -> bool:
        return self.strategy != "COMPUTE_FLEET_STOP"


STOP_FLEET = "Stop the compute fleet with the pcluster update-compute-fleet command"
STOP_LOGIN = ("Stop the login nodes by setting Count parameter to 0 and update the cluster with the pcluster "
              "update-cluster command")
NODES_STOPPED = "All compute nodes must be stopped"


def _unsupported(change: Change, ctx: _Context):
    reason = f"Update actions are not currently supported for the '{change.key}' parameter"
    if change.old is not None:
        action = f"Restore '{change.key}' value to '{change.old}'"
    else:
        action = f"{'Restore' if change.is_list else 'Remove'} the parameter '{change.key}'"
    return False, reason, action + (". If you need this change, please consider creating a new cluster instead of "
                                    "updating the existing one.")


def _queue_strategy(change: Change, ctx: _Context):
    ok = not ctx.facts.compute_running or (change.under_queues and ctx.strategy_set)
    return ok, *_queue_strategy_messages(change)


def _queue_strategy_messages(change: Change) -> tuple[str, str]:
    if change.under_queues:
        return (f"{NODES_STOPPED} or QueueUpdateStrategy must be set",
                f"{STOP_FLEET}, or set QueueUpdateStrategy in the configuration used for the 'update-cluster' "
                "operation")
    return NODES_STOPPED, STOP_FLEET


def _count(value: object, default: int) -> int:
    return int(value) if value is not None else default


def _resize(change: Change, ctx: _Context):
    ok = not ctx.facts.compute_running
    if not ok and (change.under_queues or change.key == "SlurmQueues"):
        ok = ctx.strategy == "TERMINATE" or (change.is_list and change.added)
    if not ok and change.key == "MaxCount":
        ok = _count(change.new, DEFAULT_MAX_COUNT) >= _count(change.old, DEFAULT_MAX_COUNT)
    if not ok and change.key == "MinCount":
        # A MinCount raised by no more than the MaxCount next to it adds static nodes and removes none.
        for other in ctx.changes:
            if other.path == change.path and other.key == "MaxCount":
                ok = (_count(other.new, DEFAULT_MAX_COUNT) - _count(other.old, DEFAULT_MAX_COUNT)
                      >= _count(change.new, DEFAULT_MIN_COUNT) - _count(change.old, DEFAULT_MIN_COUNT))
                break
    return ok, ("All compute nodes must be stopped or QueueUpdateStrategy must be set to TERMINATE"), (
        "Stop the compute fleet or set QueueUpdateStrategy:TERMINATE in config to remove nodes from the scheduler, "
        "terminate the associated instances & any running jobs")


def _fleet_stop_on_remove(change: Change, ctx: _Context):
    ok = not ctx.facts.compute_running
    if change.is_list and (change.under_queues or change.key == "SlurmQueues"):
        ok = ok or change.added
    return ok, NODES_STOPPED, STOP_FLEET


def _fleet_stop(change: Change, ctx: _Context):
    return not ctx.facts.compute_running, NODES_STOPPED, STOP_FLEET


def _section_of(config: dict, change: Change, kind: str, inside: dict | None = None) -> dict:
    name = change.named(kind)
    items = (inside if inside is not None else (config.get("Scheduling") or {})).get(kind) or []
    return next((item for item in items if item.get("Name") == name), {}) if name else {}


def _managed_group(queue: dict, resource: dict) -> bool:
    chosen = ((resource.get("Networking") or {}).get("PlacementGroup")
              or (queue.get("Networking") or {}).get("PlacementGroup"))
    return bool(chosen and chosen.get("Enabled") and not (chosen.get("Name") or chosen.get("Id")))


def _managed_group_deleted(change: Change, ctx: _Context) -> bool:
    def managed(config: dict) -> bool:
        queue = _section_of(config, change, "SlurmQueues")
        return _managed_group(queue, _section_of(config, change, "ComputeResources", queue))

    return managed(ctx.old) and not managed(ctx.new)


def _placement_group(change: Change, ctx: _Context):
    if _managed_group_deleted(change, ctx):
        return (not ctx.facts.compute_running,
                "All compute nodes must be stopped for a managed placement group deletion", f"{STOP_FLEET}.")
    return _queue_strategy(change, ctx)


def _managed_lustre(config: dict) -> set[str]:
    return {item.get("Name") for item in config.get("SharedStorage") or []
            if item.get("StorageType") == "FsxLustre" and "FileSystemId" not in (item.get("FsxLustreSettings") or {})}


def _managed_fsx(change: Change, ctx: _Context):
    if _managed_lustre(ctx.old) & _managed_lustre(ctx.new):
        return False, (f"{change.key} configuration cannot be updated when a managed FSx for Lustre file system is "
                       "configured. Forcing an update would trigger a deletion of the existing file system and result "
                       "in potential data loss"), (
            "If you intend to preserve the same file system or you want to create a new one please refer to the "
            "shared storage section in ParallelCluster user guide.")
    ok = not ctx.facts.compute_running
    if change.under_queues:
        grows = isinstance(change.old, list) and all(value in (change.new or []) for value in change.old)
        ok = ok or ctx.strategy_set or grows
    return ok, *_queue_strategy_messages(change)


def storage_is_live(change: Change) -> bool:
    """Whether nodes can mount or unmount this storage change while they run: an existing EFS, FSx or File Cache."""
    if not (change.is_list and change.key == "SharedStorage"):
        return False
    item = change.new if change.new is not None else change.old
    kind = item.get("StorageType")
    settings = item.get(f"{kind}Settings") or {}
    return kind in LIVE_STORAGE_TYPES and any(key in settings for key in EXTERNAL_STORAGE_KEYS)


def _home_change(change: Change) -> bool:
    if change.key != "SharedStorage" or not change.is_list:
        return False
    return any(isinstance(item, dict) and item.get("MountDir") in ("home", "/home") for item in (change.old, change.new))


def _shared_storage(change: Change, ctx: _Context):
    if _home_change(change):
        return False, "The /home directory cannot be changed during an update", (
            "Please revert any changes to the /home mount")
    if ctx.facts.scheduler == "awsbatch":
        return _unsupported(change, ctx)
    live = storage_is_live(change)
    reasons, actions = [], []
    if ctx.facts.compute_running and not live and not ctx.strategy_set:
        reasons.append("All compute nodes must be stopped or QueueUpdateStrategy must be set.")
        actions.append(f"{STOP_FLEET}, or set QueueUpdateStrategy in the configuration used for the 'update-cluster' "
                       "operation.")
    if ctx.facts.login_running() and not live:
        reasons.append("All login nodes must be stopped")
        actions.append(STOP_LOGIN)
    return not reasons, " ".join(reasons), " ".join(actions)


def _login_pools(change: Change, ctx: _Context):
    ok = not ctx.facts.login_running() or (change.is_list and change.key == "Pools" and change.added)
    return ok, "The update is not supported when login nodes are running", STOP_LOGIN


def _login_stop(change: Change, ctx: _Context):
    return not ctx.facts.login_running(), "The update is not supported when login nodes are running", STOP_LOGIN


def _login_pool_stop(change: Change, ctx: _Context):
    pool = change.named("Pools") or ""
    return (not ctx.facts.login_running(pool),
            f"The update is not supported when login nodes in {pool} are running", STOP_LOGIN)


def _compute_and_login_stop(change: Change, ctx: _Context):
    ok = not ctx.facts.compute_running and not ctx.facts.login_running()
    return ok, "The update is not supported when compute or login nodes are running", f"{STOP_FLEET}. {STOP_LOGIN}"


def _read_only_bucket(change: Change, ctx: _Context):
    return False, (f"'{change.key}' parameter is a read only parameter that cannot be updated. New value "
                   f"'{change.new}' will be ignored and old value '{change.old}' will be used if you force the "
                   "update."), f"Restore the value of parameter '{change.key}' to '{change.old}'"


def _chef_leaves(text: object) -> dict[str, object]:
    """The leaves of an ExtraChefAttributes JSON document, by dotted path."""
    try:
        data = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        data = {}
    leaves: dict[str, object] = {}

    def walk(value: object, prefix: str) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(item, f"{prefix}.{key}" if prefix else key)
        else:
            leaves[prefix] = value

    walk(data, "")
    return leaves


COOKBOOK_REASON = ("Updating cookbook related parameter is not supported because it only applies updates to compute "
                   "nodes. If you still want to proceed, first stop the compute fleet with the pcluster "
                   "update-compute-fleet command and then run an update with the --force-update flag")


def _extra_chef_attributes(change: Change, ctx: _Context):
    old, new = _chef_leaves(change.old), _chef_leaves(change.new)
    changed = {key for key in {*old, *new} if old.get(key) != new.get(key)}
    if changed <= set(UPDATABLE_CHEF_ATTRIBUTES):
        return True, "-", None
    return False, COOKBOOK_REASON, _unsupported(change, ctx)[2]


def _always(change: Change, ctx: _Context):
    return True, "-", None


# policy -> (check: change, context -> (ok, reason, action); whether a failed check is FAILED rather than ACTION
# NEEDED, as for the policies ParallelCluster gives no condition; whether a passing change is shown)
_POLICIES = {
    policies.IGNORED: (_always, False, False),
    policies.SUPPORTED: (_always, False, True),
    policies.SUPPORTED_UNLESS_ADC: (_always, False, True),  # no local region is an isolated (ADC) one
    policies.QUEUE_UPDATE_STRATEGY: (_queue_strategy, False, True),
    policies.RESIZE_UPDATE_STRATEGY_ON_REMOVE: (_resize, False, True),
    policies.MANAGED_PLACEMENT_GROUP: (_placement_group, False, True),
    policies.SHARED_STORAGE_UPDATE_POLICY: (_shared_storage, False, True),
    policies.MANAGED_FSX: (_managed_fsx, False, True),
    policies.LOGIN_NODES_POOLS: (_login_pools, False, True),
    policies.COMPUTE_FLEET_STOP_ON_REMOVE: (_fleet_stop_on_remove, False, True),
    policies.COMPUTE_FLEET_STOP: (_fleet_stop, False, True),
    policies.LOGIN_NODES_STOP: (_login_stop, False, True),
    policies.LOGIN_NODES_POOL_STOP: (_login_pool_stop, False, True),
    policies.COMPUTE_AND_LOGIN_NODES_STOP: (_compute_and_login_stop, False, True),
    policies.READ_ONLY_RESOURCE_BUCKET: (_read_only_bucket, False, False),
    policies.EXTRA_CHEF_ATTRIBUTES: (_extra_chef_attributes, True, True),
    policies.UNSUPPORTED: (_unsupported, True, True),
}

# Keys whose UNSUPPORTED verdict says more (ParallelCluster's per-key fail reasons): (section, key) -> (reason, action)
EBS_UPDATE = ("Follow the instructions at https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/"
              "requesting-ebs-volume-modifications.html#modify-ebs-volume to modify your volume from AWS Console.")
EBS_RESIZE = ("Updating the file system after a resize operation requires commands specific to your operating "
              "system.")
_UNSUPPORTED_DETAIL = {
    ("RootVolume", "Size"): (EBS_RESIZE, EBS_UPDATE),
    ("EbsSettings", "Size"): (EBS_RESIZE, EBS_UPDATE),
    ("RootVolume", "VolumeType"): (None, EBS_UPDATE),
    ("EbsSettings", "VolumeType"): (None, EBS_UPDATE),
    ("Cookbook", "ChefCookbook"): (COOKBOOK_REASON, None),
}


def _verdict(change: Change, ctx: _Context) -> Verdict:
    check, unconditional, show_passing = _POLICIES.get(change.policy, _POLICIES[policies.UNSUPPORTED])
    ok, reason, action = check(change, ctx)
    if ok:
        return Verdict(change, SUCCEEDED, "-", None, show_passing)
    if change.policy == policies.UNSUPPORTED and change.path:
        section = re.sub(r"\[.*\]$", "", change.path[-1])
        more_reason, more_action = _UNSUPPORTED_DETAIL.get((section, change.key), (None, None))
        reason, action = more_reason or reason, more_action or action
    return Verdict(change, FAILED if unconditional else ACTION_NEEDED, reason, action, True)


def plan_update(spec: Section, old: dict, new: dict, facts: FleetFacts) -> UpdatePlan:
    """The changes from `old` to `new` (configs as written) with their verdicts for a cluster in state `facts`."""
    changes = diff(spec, old, new)
    ctx = _Context(changes, old, new, facts)
    return UpdatePlan(tuple(_verdict(change, ctx) for change in changes), ctx.strategy)


def affected_queues(plan: UpdatePlan, queues: list[str]) -> list[str]:
    """The queues whose nodes the queue update strategy replaces (ParallelCluster's head node update recipe).

    Queues named by a QUEUE_UPDATE_STRATEGY change; every queue when a shared storage change cannot reach running
    nodes (a new or removed storage that is not an existing EFS, FSx or File Cache).
    """
    changes = [verdict.change for verdict in plan.verdicts]
    if any(change.policy == policies.SHARED_STORAGE_UPDATE_POLICY and not storage_is_live(change)
           for change in changes):
        return list(queues)
    named = {change.named("SlurmQueues") for change in changes if change.policy == policies.QUEUE_UPDATE_STRATEGY}
    return [queue for queue in queues if queue in named]
