"""Every verb of `pcluster --help` exists in `paracluster` and accepts each flag of its pcluster help golden.

The goldens are ParallelCluster's (`../shared/corpus/pcluster/cli/tests/pcluster/cli/**/pcluster-help.txt`). Verbs
that later issues bring are listed in EXPECTED_MISSING with their issue; the test fails when one of them appears
(take it off the list) or when a verb not listed is missing, so the list only shrinks.
"""

from __future__ import annotations

import json
import re

import pytest

from support import CORPUS
from paracluster.cli import COMMANDS, build_parser, main

GOLDENS = CORPUS / "pcluster/cli/tests/pcluster/cli"
pytestmark = pytest.mark.skipif(not GOLDENS.exists(), reason="the shared ParallelCluster corpus is not present")

EXPECTED_MISSING: dict[str, str] = {
}
# Goldens of verbs that `pcluster --help` no longer lists (kept in ParallelCluster's test tree from older releases).
STALE_GOLDENS = {"list-cluster-logs": "not among the 26 verbs of pcluster 3's --help"}


def _pcluster_verbs() -> list[str]:
    text = (GOLDENS / "test_entrypoint/TestParallelClusterCli/test_helper/pcluster-help.txt").read_text()
    return re.search(r"\{([a-z,-]+)\}", text).group(1).split(",")


def _verb_goldens() -> dict[str, str]:
    """verb -> its help golden's text."""
    found = {}
    for path in GOLDENS.glob("*/*/test_helper/pcluster-help.txt"):
        text = path.read_text()
        match = re.match(r"usage: pcluster ([a-z-]+) ", text)
        if match:
            found[match.group(1)] = text
    return found


def _flags(golden: str) -> set[str]:
    """The option strings of a help text's `options:` section: `-r`, `--region`, `--dryrun`, ..."""
    flags = set()
    for line in golden.split("\noptions:\n", 1)[1].splitlines():
        signature = re.match(r"^  (-\S.*?)(?:\s{2,}|$)", line)
        if signature:
            flags.update(re.findall(r"(?:^|, )(--?[A-Za-z][\w-]*)", signature.group(1)))
    return flags


def _accepted(verb: str) -> set[str]:
    subparsers = next(action for action in build_parser(verb)._actions if action.dest == "command")
    return set(subparsers.choices[verb]._option_string_actions)


def test_pcluster_has_26_verbs_and_each_is_here_or_expected():
    verbs = _pcluster_verbs()
    assert len(verbs) == 26
    missing = {verb for verb in verbs if verb not in COMMANDS}
    assert missing == set(EXPECTED_MISSING), (
        f"arrived (take off EXPECTED_MISSING): {sorted(set(EXPECTED_MISSING) - missing)}; "
        f"missing without an issue: {sorted(missing - set(EXPECTED_MISSING))}"
    )


def test_every_golden_is_of_a_pcluster_verb_or_stale():
    assert set(_verb_goldens()) - set(_pcluster_verbs()) == set(STALE_GOLDENS)


@pytest.mark.parametrize("verb", sorted(set(_verb_goldens()) - set(EXPECTED_MISSING) - set(STALE_GOLDENS))
                         if GOLDENS.exists() else [])
def test_each_verb_accepts_each_flag_of_its_golden(verb):
    flags = _flags(_verb_goldens()[verb])
    assert "-h" in flags and len(flags) > 2  # the golden was read
    assert flags - _accepted(verb) == set()


def test_dcv_connect_on_the_local_provider_says_why_there_is_no_dcv(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["dcv-connect", "-n", "mycluster", "--key-path", "/tmp/k", "--show-url", "--login-node-ip", "10.0.0.5"])
    assert exit_info.value.code == 1
    assert json.loads(capsys.readouterr().out) == {"message": (
        "dcv-connect cannot open a desktop on cluster 'mycluster': local nodes are Linux namespaces on this machine "
        "with no display or DCV server, so reach the head node with `paracluster ssh -n mycluster` instead.")}
