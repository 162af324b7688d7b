"""Shared test fixtures: paths to the project, its examples and the shared ParallelCluster corpus."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from support import CORPUS, MINIMAL_CLUSTER, PROJECT  # noqa: F401 - re-exported for fixtures


@pytest.fixture
def write_config(tmp_path):
    """Write YAML text (dedented) to a file and return its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
