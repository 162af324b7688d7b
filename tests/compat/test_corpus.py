"""ParallelCluster's schema verdicts on labelled configs agree with ours, and the README's claim of which releases load.

Three labelled sets live outside the project (`../shared/corpus`; without it these tests skip): ParallelCluster's own
test configs and mutated configs, labelled by ParallelCluster 3.12.0's schema, and configs using the keys 3.13-3.16
added, labelled by 3.16.1's schema. Jinja templates carry no verdict and are not counted. Where we choose to differ
from ParallelCluster, the case is listed in KNOWN_DIFFERENCES with the reason, and the test checks that the
difference is exactly that.
"""

from __future__ import annotations

import json
import re

import pytest

from support import BATCH_CLUSTER, CORPUS, MINIMAL_CLUSTER, PROJECT
from paracluster.config.load import load_cluster_config, load_config_text, load_image_config
from paracluster.config.schema import CLUSTER, IMAGE_CONFIG
from paracluster.errors import ConfigFileError

# (corpus, file) -> why ParaCluster's verdict differs. Empty: every labelled config gets ParallelCluster's verdict.
# Cases where ParallelCluster crashes with a TypeError (a queue without ComputeResources, an FsxOpenZfs, FsxOntap
# or FileCache storage without its settings) count as rejections on both sides; we give a clear sentence instead.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}

# Each labelled set and the ParallelCluster release whose schema labelled it.
LABELLED_SETS = {"pcluster": "3.12.0", "pcluster-mutants": "3.12.0", "pcluster-3.16": "3.16.1"}


def _labelled(corpus: str):
    base = CORPUS / corpus
    verdicts_file = base / "verdicts.json"
    if not verdicts_file.exists():
        return []
    verdicts = json.loads(verdicts_file.read_text())
    return [
        pytest.param(corpus, path, verdict, id=f"{corpus}/{path}")
        for path, verdict in sorted(verdicts.items())
        if verdict.get("valid") is not None
    ]


CASES = [case for corpus in LABELLED_SETS for case in _labelled(corpus)]


def _our_verdict(path, kind: str) -> tuple[bool, list[str]]:
    loader = load_image_config if kind == "image" else load_cluster_config
    try:
        loaded = loader(path)
    except ConfigFileError as err:
        return False, [str(err)]
    return loaded.config is not None, [str(problem) for problem in loaded.errors]


@pytest.mark.skipif(not CASES, reason="the shared ParallelCluster corpus is not present")
@pytest.mark.parametrize(("corpus", "path", "verdict"), CASES)
def test_schema_verdict_agrees_with_parallelcluster(corpus, path, verdict):
    ours, problems = _our_verdict(CORPUS / corpus / path, verdict["kind"])
    if (corpus, path) in KNOWN_DIFFERENCES:
        assert ours != verdict["valid"], f"no longer differs: {KNOWN_DIFFERENCES[(corpus, path)]}"
        return
    assert ours == verdict["valid"], (
        f"ParallelCluster says valid={verdict['valid']} ({verdict.get('error', '')[:200]}); we say {problems}"
    )
    if not ours:
        # Every rejection explains itself: a YAML path, a line when the file has one, and a sentence.
        assert problems and all(": " in problem for problem in problems)


@pytest.mark.skipif(not CASES, reason="the shared ParallelCluster corpus is not present")
def test_corpus_is_fully_counted():
    counts = {corpus: len(_labelled(corpus)) for corpus in LABELLED_SETS}
    assert counts["pcluster"] + counts["pcluster-mutants"] >= 465
    assert counts["pcluster-3.16"] >= 39


@pytest.mark.skipif(not CASES, reason="the shared ParallelCluster corpus is not present")
def test_each_labelled_set_names_its_release():
    # The labels must come from the release we say: each set's README names the ParallelCluster version that made them.
    for corpus, release in LABELLED_SETS.items():
        assert release in (CORPUS / corpus / "README.md").read_text(), corpus


# How to write a config that uses each thing a release removed, by the name the README gives it.
def _with_os(os: str) -> str:
    return MINIMAL_CLUSTER.replace("Os: alinux2023", f"Os: {os}")


REMOVED = {
    "Scheduler: awsbatch": ("cluster", BATCH_CLUSTER),
    "Os: alinux2": ("cluster", _with_os("alinux2")),
    "Os: ubuntu2004": ("cluster", _with_os("ubuntu2004")),
    "Os: centos7": ("cluster", _with_os("centos7")),
    "Os: ubuntu1804": ("cluster", _with_os("ubuntu1804")),
    "LoginNodes/Pools/Ssh/KeyName": (
        "cluster",
        MINIMAL_CLUSTER + "LoginNodes:\n  Pools:\n    - Name: login\n      InstanceType: c5.xlarge\n      Count: 1\n"
        "      Networking:\n        SubnetIds: [subnet-12345678]\n      Ssh:\n        KeyName: mykey\n",
    ),
    "DevSettings/AwsBatchCliPackage": ("cluster", MINIMAL_CLUSTER + "DevSettings:\n  AwsBatchCliPackage: s3://b/k\n"),
    "DevSettings/CincInstallerUrl": (
        "image",
        "Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-12345678\nDevSettings:\n"
        "  CincInstallerUrl: https://example.com/cinc.sh\n",
    ),
}


def _readme_claim() -> tuple[str, str]:
    text = " ".join((PROJECT / "README.md").read_text().split())
    match = re.search(r"Configs written for ParallelCluster 3\.0 through (3\.\d+) load\. (.*?)`tests/compat", text)
    assert match, "README lost its sentence about which releases load"
    return match.group(1), match.group(2)


def test_readme_release_range_is_the_newest_labelled_release():
    newest, _ = _readme_claim()
    labelled = max(LABELLED_SETS.values(), key=lambda v: tuple(map(int, v.split("."))))
    assert labelled.startswith(newest + "."), f"README says up to {newest}, the newest labelled set is {labelled}"


def test_readme_removed_items_load_with_a_warning_naming_their_release():
    _, claim = _readme_claim()
    items = dict(re.findall(r"`([^`]+)` \((3\.\d+(?:\.\d+)?)\)", claim))
    assert set(items) == set(REMOVED), "README and this test list different removed keys/values"
    for name, release in items.items():
        kind, text = REMOVED[name]
        loaded = load_config_text(IMAGE_CONFIG if kind == "image" else CLUSTER, text)
        assert loaded.config is not None, (name, [str(p) for p in loaded.errors])
        warnings = [str(p) for p in loaded.warnings]
        assert any(f"removed in ParallelCluster {release}" in w for w in warnings), (name, warnings)
