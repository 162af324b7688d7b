"""Property-based tests: random edits of valid configs never crash the loader; they load or give clear problems."""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import CORPUS, MINIMAL_CLUSTER
from paracluster.config.load import check_data
from paracluster.config.schema import CLUSTER

SEEDS = [yaml.safe_load(MINIMAL_CLUSTER)]
_full = CORPUS / "pcluster/cli/tests/pcluster/example_configs/slurm.full.yaml"
if _full.exists():
    SEEDS.append(yaml.safe_load(_full.read_text()))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["slurm", "awsbatch", "ami-12345678", "subnet-12345678", "/shared", "yes", "NONE", "10"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


@st.composite
def edited_configs(draw):
    config = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [path for path in _paths(config) if path]
        path = draw(st.sampled_from(paths))
        parent = config
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add_key"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
    return config


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited_configs())
def test_random_edits_load_or_give_clear_problems(config):
    loaded = check_data(CLUSTER, config)
    if loaded.config is None:
        assert loaded.errors
        for problem in loaded.errors:
            assert problem.message and not problem.message.startswith("Traceback")
            assert str(problem).count(": ") >= 1
    else:
        # A config that loads can be read all the way down through the view without errors.
        _walk_view(loaded.config)


def _walk_view(node):
    for attribute in node._spec.attrs:
        value = getattr(node, attribute)
        if hasattr(value, "_spec"):
            _walk_view(value)
        elif isinstance(value, list):
            for item in value:
                if hasattr(item, "_spec"):
                    _walk_view(item)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_parser(text):
    from paracluster.config.load import load_config_text
    from paracluster.errors import ConfigFileError

    try:
        loaded = load_config_text(CLUSTER, text)
    except ConfigFileError as err:
        assert "fix the YAML syntax" in str(err)
    else:
        assert loaded.config is None or loaded.config.scheduling is not None
