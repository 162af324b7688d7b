"""ResumeProgram's scaling strategies: job-level and node-list scaling against a fake fleet with limited capacity."""

from __future__ import annotations

import pytest

from paracluster.slurm.scaling import (
    ALL_OR_NOTHING,
    BEST_EFFORT,
    GREEDY_ALL_OR_NOTHING,
    ScaleResult,
    _pair,
    parse_node_name,
    resume,
)

ICE = "InsufficientInstanceCapacity"
LIMITED = "LimitedInstanceCapacity"
INVALID = "InvalidNodenameError"
AON, BE, GREEDY = ALL_OR_NOTHING, BEST_EFFORT, GREEDY_ALL_OR_NOTHING


class FakeFleet:
    """A launcher with a number of instances left per (queue, compute resource), all-or-nothing per compute resource.

    codes maps a compute resource to an error code it always fails with; raises makes every call raise it.
    """

    def __init__(self, capacity: dict[tuple[str, str], int], codes=None, raises: Exception | None = None):
        self.capacity = dict(capacity)
        self.codes = codes or {}
        self.raises = raises
        self.calls: list[tuple[list[str], bool]] = []
        self.instance_ids: list[str] = []

    def __call__(self, nodes: list[str], all_or_nothing: bool):
        self.calls.append((list(nodes), all_or_nothing))
        if self.raises:
            raise self.raises
        by_cr: dict[tuple[str, str], list[str]] = {}
        for node in nodes:
            queue, _, cr, _ = parse_node_name(node)
            by_cr.setdefault((queue, cr), []).append(node)
        launched, failed = {}, {}
        for key, names in by_cr.items():
            if key in self.codes:
                failed.update(dict.fromkeys(names, self.codes[key]))
                continue
            left = self.capacity.get(key, 0)
            count = 0 if all_or_nothing and left < len(names) else min(left, len(names))
            self.capacity[key] = left - count
            for name in names[:count]:
                instance_id = f"i-{len(self.instance_ids) + 1:04d}"
                self.instance_ids.append(instance_id)
                launched[name] = {"instanceId": instance_id, "name": name, "queue": key[0], "computeResource": key[1]}
            failed.update(dict.fromkeys(names[count:], ICE))
        return launched, failed


def resume_file(*hostlists: str) -> dict:
    """A Slurm resume file with one job per hostlist of nodes to resume."""
    jobs = [
        {"job_id": 100 + index, "nodes_alloc": hostlist, "nodes_resume": hostlist, "oversubscribe": "OK",
         "partition": "q", "reservation": None, "features": None, "extra": None}
        for index, hostlist in enumerate(hostlists)
    ]
    return {"all_nodes_resume": ",".join(hostlists), "jobs": jobs}


def names(hostlist: str) -> list[str]:
    from paracluster.slurm.hostlist import expand_hostlist

    return expand_hostlist(hostlist)


def check_consistent(result: ScaleResult, fleet: FakeFleet) -> None:
    """Every launched instance is assigned to exactly one node or terminated; no node is both assigned and failed."""
    assigned_ids = [instance["instanceId"] for instance in result.assigned.values()]
    assert len(assigned_ids) == len(set(assigned_ids))
    assert sorted(assigned_ids + result.to_terminate) == sorted(fleet.instance_ids)
    assert not set(result.assigned) & set(result.failed)
    assert result.launches == len(fleet.calls)


# Each case: argument nodes, resume file, strategy, capacity, then the expected assigned nodes, failed nodes by code,
# number of instances to terminate and launch calls (nodes, all_or_nothing).
CASES = {
    # --- one single-node job: scaled by itself with the configured strategy
    "single job aon": ("q-dy-c-1", resume_file("q-dy-c-1"), AON, {("q", "c"): 1},
                       "q-dy-c-1", {}, 0, [("q-dy-c-1", True)]),
    "single job best-effort": ("q-dy-c-1", resume_file("q-dy-c-1"), BE, {("q", "c"): 1},
                               "q-dy-c-1", {}, 0, [("q-dy-c-1", False)]),
    "single job greedy": ("q-dy-c-1", resume_file("q-dy-c-1"), GREEDY, {("q", "c"): 1},
                          "q-dy-c-1", {}, 0, [("q-dy-c-1", False)]),
    "single job no capacity": ("q-dy-c-1", resume_file("q-dy-c-1"), AON, {},
                               "", {ICE: "q-dy-c-1"}, 0, [("q-dy-c-1", True)]),
    # --- several single-node jobs: one best-effort launch whatever the strategy, partial results kept
    "single jobs merged": ("q-dy-c-[1-3]", resume_file("q-dy-c-1", "q-dy-c-2", "q-dy-c-3"), AON, {("q", "c"): 2},
                           "q-dy-c-[1-2]", {LIMITED: "q-dy-c-3"}, 0, [("q-dy-c-[1-3]", False)]),
    "single jobs merged across CRs": (
        "q-dy-a-1,q-dy-b-1", resume_file("q-dy-a-1", "q-dy-b-1"), GREEDY, {("q", "a"): 1},
        "q-dy-a-1", {ICE: "q-dy-b-1"}, 0, [("q-dy-a-1", False), ("q-dy-b-1", False)]),
    # --- a 4-node job under capacity 3
    # all-or-nothing: no scale-all for a lone job; its launch has MinCount=4 and gets nothing.
    "4 nodes cap 3 aon": ("q-dy-c-[1-4]", resume_file("q-dy-c-[1-4]"), AON, {("q", "c"): 3},
                          "", {ICE: "q-dy-c-[1-4]"}, 0, [("q-dy-c-[1-4]", True)]),
    # best-effort: the scale-all launch gets 3, the job keeps them.
    "4 nodes cap 3 best-effort": ("q-dy-c-[1-4]", resume_file("q-dy-c-[1-4]"), BE, {("q", "c"): 3},
                                  "q-dy-c-[1-3]", {LIMITED: "q-dy-c-4"}, 0, [("q-dy-c-[1-4]", False)]),
    # greedy: the scale-all launch gets 3, the job needs 4, so nothing is assigned and the 3 are terminated.
    "4 nodes cap 3 greedy": ("q-dy-c-[1-4]", resume_file("q-dy-c-[1-4]"), GREEDY, {("q", "c"): 3},
                             "", {LIMITED: "q-dy-c-[1-4]"}, 3, [("q-dy-c-[1-4]", False)]),
    # --- two multi-node jobs (4 and 2 nodes) competing for 3 instances
    # greedy: job A's partial set goes back to the pool and job B, which fits, gets it; one instance is left over.
    "two jobs greedy": ("q-dy-c-[1-6]", resume_file("q-dy-c-[1-4]", "q-dy-c-[5-6]"), GREEDY, {("q", "c"): 3},
                        "q-dy-c-[5-6]", {LIMITED: "q-dy-c-[1-4]"}, 1, [("q-dy-c-[1-6]", False)]),
    "two jobs greedy both fit": ("q-dy-c-[1-6]", resume_file("q-dy-c-[1-4]", "q-dy-c-[5-6]"), GREEDY,
                                 {("q", "c"): 6}, "q-dy-c-[1-6]", {}, 0, [("q-dy-c-[1-6]", False)]),
    # all-or-nothing: the scale-all launch (MinCount=6) gets nothing, then each job launches for itself.
    "two jobs aon": ("q-dy-c-[1-6]", resume_file("q-dy-c-[1-4]", "q-dy-c-[5-6]"), AON, {("q", "c"): 3},
                     "q-dy-c-[5-6]", {ICE: "q-dy-c-[1-4]"}, 0,
                     [("q-dy-c-[1-6]", True), ("q-dy-c-[1-4]", True), ("q-dy-c-[5-6]", True)]),
    # best-effort: job A takes the 3 from the scale-all launch; job B gets no launch of its own.
    "two jobs best-effort": ("q-dy-c-[1-6]", resume_file("q-dy-c-[1-4]", "q-dy-c-[5-6]"), BE, {("q", "c"): 3},
                             "q-dy-c-[1-3]", {LIMITED: "q-dy-c-4", ICE: "q-dy-c-[5-6]"}, 0,
                             [("q-dy-c-[1-6]", False)]),
    # --- node-list scaling (no jobs): one launch per compute resource with the strategy
    "node list aon": ("q-dy-a-[1-2],q-dy-b-[1-2]", None, AON, {("q", "a"): 2, ("q", "b"): 1},
                      "", {LIMITED: "q-dy-a-[1-2]", ICE: "q-dy-b-[1-2]"}, 2,
                      [("q-dy-a-[1-2]", True), ("q-dy-b-[1-2]", True)]),
    "node list best-effort": ("q-dy-a-[1-2],q-dy-b-[1-2]", None, BE, {("q", "a"): 2, ("q", "b"): 1},
                              "q-dy-a-[1-2],q-dy-b-1", {LIMITED: "q-dy-b-2"}, 0,
                              [("q-dy-a-[1-2]", False), ("q-dy-b-[1-2]", False)]),
    "node list greedy": ("q-dy-a-[1-2],q-dy-b-[1-2]", None, GREEDY, {("q", "a"): 2, ("q", "b"): 1},
                         "", {LIMITED: "q-dy-a-[1-2],q-dy-b-[1-2]"}, 3,
                         [("q-dy-a-[1-2]", False), ("q-dy-b-[1-2]", False)]),
    "empty jobs list is node list": ("q-dy-c-[1-2]", {"all_nodes_resume": "q-dy-c-[1-2]", "jobs": []}, AON,
                                     {("q", "c"): 2}, "q-dy-c-[1-2]", {}, 0, [("q-dy-c-[1-2]", True)]),
    # --- invalid names: bad format, or passed to ResumeProgram but absent from the resume file
    "invalid in node list": ("q-dy-c-1,Q-dy-c-2,q-xx-c-3,head", None, BE, {("q", "c"): 5},
                             "q-dy-c-1", {INVALID: "Q-dy-c-2,q-xx-c-3,head"}, 0, [("q-dy-c-1", False)]),
    "not in resume file": ("q-dy-c-[1-2]", resume_file("q-dy-c-1"), AON, {("q", "c"): 5},
                           "q-dy-c-1", {INVALID: "q-dy-c-2"}, 0, [("q-dy-c-1", True)]),
    "invalid name in job": ("q-dy-c-[1-3],bad", resume_file("q-dy-c-[1-3],bad"), AON, {("q", "c"): 5},
                            "q-dy-c-[1-3]", {INVALID: "bad"}, 0, [("q-dy-c-[1-3]", True)]),
    "unparsable job": ("q-dy-c-1", resume_file("q-dy-c-[1"), AON, {("q", "c"): 5},
                       "", {INVALID: "q-dy-c-1"}, 0, []),
    # --- oversubscription: a node in several jobs gets one instance, from the first job that scales it
    "shared nodes": ("q-dy-c-[1-3]", resume_file("q-dy-c-1", "q-dy-c-[1-2]", "q-dy-c-[2-3]"), AON,
                     {("q", "c"): 10}, "q-dy-c-[1-3]", {}, 0, [("q-dy-c-1", True), ("q-dy-c-[2-3]", True)]),
    "duplicate single-node jobs": ("q-dy-c-1", resume_file("q-dy-c-1", "q-dy-c-1"), AON, {("q", "c"): 10},
                                   "q-dy-c-1", {}, 0, [("q-dy-c-1", False)]),
    "shared nodes greedy": ("q-dy-c-[1-3]", resume_file("q-dy-c-[1-2]", "q-dy-c-[2-3]"), GREEDY,
                            {("q", "c"): 10}, "q-dy-c-[1-3]", {}, 0, [("q-dy-c-[1-3]", False)]),
    # --- zero capacity
    "zero node list best-effort": ("q-dy-c-[1-2]", None, BE, {}, "", {ICE: "q-dy-c-[1-2]"}, 0,
                                   [("q-dy-c-[1-2]", False)]),
    "zero two jobs greedy": ("q-dy-c-[1-4]", resume_file("q-dy-c-[1-2]", "q-dy-c-[3-4]"), GREEDY, {},
                             "", {ICE: "q-dy-c-[1-4]"}, 0, [("q-dy-c-[1-4]", False)]),
    "zero single job best-effort": ("q-dy-c-[1-2]", resume_file("q-dy-c-[1-2]"), BE, {},
                                    "", {ICE: "q-dy-c-[1-2]"}, 0, [("q-dy-c-[1-2]", False)]),
    # --- a job over two compute resources, one empty: its all-or-nothing launch stops at the short one
    "aon job stops at short CR": ("q-dy-a-[1-2],q-dy-b-[1-2]", resume_file("q-dy-b-[1-2],q-dy-a-[1-2]"), AON,
                                  {("q", "b"): 2}, "", {LIMITED: "q-dy-b-[1-2]", ICE: "q-dy-a-[1-2]"}, 2,
                                  [("q-dy-b-[1-2]", True), ("q-dy-a-[1-2]", True)]),
    "aon job stops early": ("q-dy-a-[1-2],q-dy-b-[1-2]", resume_file("q-dy-a-[1-2],q-dy-b-[1-2]"), AON,
                            {("q", "b"): 2}, "", {ICE: "q-dy-a-[1-2],q-dy-b-[1-2]"}, 0,
                            [("q-dy-a-[1-2]", True)]),
    # --- unknown strategies are all-or-nothing; strategy names are case-insensitive as in ParallelCluster
    "unknown strategy": ("q-dy-c-[1-2]", None, "cheapest", {("q", "c"): 1}, "", {ICE: "q-dy-c-[1-2]"}, 0,
                         [("q-dy-c-[1-2]", True)]),
    "strategy case": ("q-dy-c-[1-2]", None, "Best-Effort", {("q", "c"): 1}, "q-dy-c-1", {LIMITED: "q-dy-c-2"}, 0,
                      [("q-dy-c-[1-2]", False)]),
}


def by_node(failed: dict[str, str]) -> dict[str, str]:
    """{code: hostlist} -> {node: code}."""
    return {node: code for code, hostlist in failed.items() for node in names(hostlist)}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_scaling(case):
    args, file, strategy, capacity, assigned, failed, terminated, calls = case
    fleet = FakeFleet(capacity)
    result = resume(names(args), file, strategy, fleet)
    assert sorted(result.assigned) == sorted(names(assigned))
    assert result.failed == by_node(failed)
    assert len(result.to_terminate) == terminated
    assert fleet.calls == [(names(nodes), all_or_nothing) for nodes, all_or_nothing in calls]
    check_consistent(result, fleet)


def test_greedy_reassigns_pooled_instances_to_the_job_that_fits():
    # The scale-all launch started instances for job A's first nodes; job B gets two of them.
    fleet = FakeFleet({("q", "c"): 3})
    result = resume(names("q-dy-c-[1-6]"), resume_file("q-dy-c-[1-4]", "q-dy-c-[5-6]"), GREEDY, fleet)
    assert {instance["name"] for instance in result.assigned.values()} <= set(names("q-dy-c-[1-3]"))
    assert sorted(result.to_terminate + [i["instanceId"] for i in result.assigned.values()]) == fleet.instance_ids


def test_assigned_instances_keep_their_launch_node_when_they_can():
    fleet = FakeFleet({("q", "c"): 6})
    result = resume(names("q-dy-c-[1-6]"), resume_file("q-dy-c-[1-4]", "q-dy-c-[5-6]"), BE, fleet)
    assert all(instance["name"] == node for node, instance in result.assigned.items())


def test_pair_prefers_the_launch_node_then_position():
    def instance(name):
        return {"instanceId": f"i-{name}", "name": name}

    pairs, spare = _pair(["a", "b", "c"], [instance("c"), instance("x"), instance("a"), instance("y")])
    assert {node: i["name"] for node, i in pairs.items()} == {"a": "a", "b": "x", "c": "c"}
    assert [i["name"] for i in spare] == ["y"]


def test_launch_batches_and_all_or_nothing_early_exit():
    # With batches of 2, an all-or-nothing job launch stops at the first short batch; what it got is terminated.
    fleet = FakeFleet({("q", "c"): 3})
    result = resume(names("q-dy-c-[1-5]"), resume_file("q-dy-c-[1-5]"), AON, fleet, launch_batch_size=2)
    assert fleet.calls == [(names("q-dy-c-[1-2]"), True), (names("q-dy-c-[3-4]"), True)]
    assert result.assigned == {}
    assert result.failed == by_node({LIMITED: "q-dy-c-[1-2],q-dy-c-5", ICE: "q-dy-c-[3-4]"})
    assert result.to_terminate == ["i-0001", "i-0002"]
    check_consistent(result, fleet)


@pytest.mark.parametrize("strategy", [AON, BE, GREEDY])
def test_launcher_codes_are_kept(strategy):
    # The code the fleet gave for an empty launch is not overridden by the assignment's capacity codes.
    fleet = FakeFleet({("q", "a"): 2}, codes={("q", "b"): "MaxSpotInstanceCountExceeded"})
    result = resume(names("q-dy-a-[1-2],q-dy-b-[1-2]"), None, strategy, fleet)
    assert {result.failed[node] for node in names("q-dy-b-[1-2]")} == {"MaxSpotInstanceCountExceeded"}
    if strategy == BE:
        assert sorted(result.assigned) == names("q-dy-a-[1-2]")
    else:
        assert result.assigned == {} and len(result.to_terminate) == 2
        assert {result.failed[node] for node in names("q-dy-a-[1-2]")} == {LIMITED}
    check_consistent(result, fleet)


class CodedError(Exception):
    code = "RequestLimitExceeded"


@pytest.mark.parametrize("error, code", [(CodedError("throttled"), "RequestLimitExceeded"),
                                         (OSError("fleet down"), "Exception")])
def test_launcher_exceptions_fail_the_batch(error, code):
    fleet = FakeFleet({("q", "c"): 5}, raises=error)
    result = resume(names("q-dy-c-[1-2]"), resume_file("q-dy-c-1", "q-dy-c-2"), AON, fleet)
    assert result.failed == dict.fromkeys(names("q-dy-c-[1-2]"), code)
    assert result.assigned == {} and result.to_terminate == [] and result.launches == 1


def test_hostlist_arguments_are_expanded():
    fleet = FakeFleet({("q", "c"): 2})
    result = resume(["q-dy-c-[1-2]", "q-dy-c-[3"], None, BE, fleet)
    assert sorted(result.assigned) == names("q-dy-c-[1-2]")
    assert result.failed == {"q-dy-c-[3": INVALID}


@pytest.mark.parametrize(
    "name, parsed",
    [
        ("q1-dy-cr1-3", ("q1", "dy", "cr1", 3)),
        ("q1-st-cr1-12", ("q1", "st", "cr1", 12)),
        ("my-queue-dy-my-cr-007", ("my-queue", "dy", "my-cr", 7)),
        # Greedy like ParallelCluster: the queue takes as much as it can.
        ("a-st-b-dy-c-1", ("a-st-b", "dy", "c", 1)),
        ("q-dy-dy-dy-1", ("q-dy", "dy", "dy", 1)),
    ],
)
def test_parse_node_name(name, parsed):
    assert parse_node_name(name) == parsed


@pytest.mark.parametrize("name", ["", "q1-dy-cr1", "Q1-dy-cr1-1", "q1-xx-cr1-1", "q1_q-dy-cr1-1", "q1-dy-cr1-1\n",
                                  "q1-dy-cr1-x", "-dy-cr1-1", None, 7])
def test_parse_node_name_rejects(name):
    with pytest.raises(ValueError, match="invalid node name"):
        parse_node_name(name)
