"""Slurm hostlist expressions: expansion, compression, their round trip and clear errors on bad syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paracluster.slurm.hostlist import MAX_HOSTS, compress_hostlist, expand_hostlist


@pytest.mark.parametrize(
    "text, names",
    [
        ("", []),
        ("  ", []),
        ("head", ["head"]),
        ("q1-st-cr1-1", ["q1-st-cr1-1"]),
        ("q1-st-cr1-[1-3,5]", ["q1-st-cr1-1", "q1-st-cr1-2", "q1-st-cr1-3", "q1-st-cr1-5"]),
        ("q1-st-cr1-[1-2],q2-dy-c-[01-02]", ["q1-st-cr1-1", "q1-st-cr1-2", "q2-dy-c-01", "q2-dy-c-02"]),
        ("n[08-10]", ["n08", "n09", "n10"]),
        ("n[8-10]", ["n8", "n9", "n10"]),
        ("n[1]", ["n1"]),
        ("n[3,1,3]", ["n3", "n1", "n3"]),  # order and duplicates kept, like `scontrol show hostnames`
        ("a,,b,", ["a", "b"]),  # empty items are skipped, as Slurm does
        ("a b\tc", ["a", "b", "c"]),
        ("n[1, 3]", ["n1", "n3"]),
        ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
        ("n[1-2]-ib", ["n1-ib", "n2-ib"]),
        ("[1-2]", ["1", "2"]),
    ],
)
def test_expand(text, names):
    assert expand_hostlist(text) == names


@pytest.mark.parametrize(
    "text, message",
    [
        ("n[1-3", "never closed"),
        ("n1-3]", "without a matching"),
        ("n[[1]]", "nested"),
        ("n[]", "bad range"),
        ("n[a-b]", "bad range"),
        ("n[1-]", "bad range"),
        ("n[-1]", "bad range"),
        ("n[1-2-3]", "bad range"),
        ("n[3-1]", "goes downwards"),
        ("n[1,,2]", "bad range"),
        (f"n[1-{MAX_HOSTS + 1}]", "more than"),
        ("a[1-1000]b[1-1000]c[1-1000]", "more than"),
    ],
)
def test_expand_rejects_bad_syntax(text, message):
    with pytest.raises(ValueError, match=message):
        expand_hostlist(text)


def test_expand_rejects_non_strings():
    with pytest.raises(ValueError, match="must be a string"):
        expand_hostlist(["a"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "names, text",
    [
        ([], ""),
        (["head"], "head"),
        (["q1-st-cr1-1"], "q1-st-cr1-1"),
        (["q1-st-cr1-2", "q1-st-cr1-1", "q1-st-cr1-3", "q1-st-cr1-5"], "q1-st-cr1-[1-3,5]"),
        (["n9", "n10", "n11"], "n[9-11]"),  # numeric order, not text order
        (["n09", "n10"], "n[09-10]"),
        (["n010", "n011", "n9"], "n[9,010-011]"),
        (["n10", "n011"], "n[10,011]"),  # different padding: separate, so the expansion gives them back
        (["n5", "n05"], "n[5,05]"),
        (["b-1", "a-2", "a-1", "a-1"], "a-[1-2],b-1"),  # sorted by prefix, duplicates dropped
        (["q2-dy-c-1", "q1-st-cr1-1", "q1-st-cr1-2"], "q1-st-cr1-[1-2],q2-dy-c-1"),
        (["head", "n1", "n2"], "head,n[1-2]"),
    ],
)
def test_compress(names, text):
    assert compress_hostlist(names) == text


@pytest.mark.parametrize("name", ["", "n[1]", "a,b", "a b"])
def test_compress_rejects_names_that_cannot_be_listed(name):
    with pytest.raises(ValueError, match="invalid host name"):
        compress_hostlist([name])


def test_compress_rejects_a_string():
    with pytest.raises(ValueError, match="list of names"):
        compress_hostlist("n1,n2")  # type: ignore[arg-type]


names = st.builds(
    lambda prefix, number, pad: f"{prefix}{str(number).zfill(pad)}",
    st.sampled_from(["q1-st-cr1-", "q1-dy-cr1-", "gpu-st-p4d-", "n", "head"]),
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=0, max_value=3),
)


@given(st.lists(names, max_size=40))
def test_compress_then_expand_gives_the_same_names(name_list):
    compressed = compress_hostlist(name_list)
    assert sorted(expand_hostlist(compressed)) == sorted(set(name_list))
    # Compressing is stable: the expansion of a compressed list compresses to the same text.
    assert compress_hostlist(expand_hostlist(compressed)) == compressed
