"""ParallelCluster 3.12.0's schema verdicts on its own test configs and on mutated configs agree with ours.

The corpus lives outside the project (`../shared/corpus`); without it these tests skip. Jinja templates carry no
verdict and are not counted. Where we choose to differ from ParallelCluster, the case is listed in KNOWN_DIFFERENCES
with the reason, and the test checks that the difference is exactly that.
"""

from __future__ import annotations

import json

import pytest

from support import CORPUS
from paracluster.config.load import load_cluster_config, load_image_config
from paracluster.errors import ConfigFileError

# (corpus, file) -> why ParaCluster's verdict differs. Empty: every labelled config gets ParallelCluster's verdict.
# Cases where ParallelCluster crashes with a TypeError (a queue without ComputeResources, an FsxOpenZfs, FsxOntap
# or FileCache storage without its settings) count as rejections on both sides; we give a clear sentence instead.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}


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


CASES = _labelled("pcluster") + _labelled("pcluster-mutants")


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
    assert len(CASES) >= 465
