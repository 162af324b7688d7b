"""Run component documents for real: load them with the host's loader, then run them with the node-side runner
against a temporary directory tree (with real bash); relative paths in documents are relative to `root`."""

from __future__ import annotations

import pytest

from docrun import plan_of
from paracluster.images import runner


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def run_docs(tmp_path, root):
    """run_docs(doc, ..., phases=..., parameters=..., transfer=..., reboot=..., update_os=...) -> progress"""

    def run(*documents: str, phases=("build",), parameters=None, work="work", **hooks):
        plan_extra = {key: hooks.pop(key) for key in ("maxReboots",) if key in hooks}
        plan = plan_of(*documents, phases=phases, parameters=parameters, root=root, **plan_extra)
        return runner.run(plan, tmp_path / work, **hooks)

    return run
