"""Unit tests never reach a host service: they get a private state directory and may not start the service."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_host_service(monkeypatch, tmp_path):
    monkeypatch.setenv("PARACLUSTER_STATE_DIR", str(tmp_path / "state"))

    def refuse(self):
        raise AssertionError("a unit test tried to start the host service; use --dryrun or an integration test")

    from paracluster.providers.local.host.client import ServiceClient

    monkeypatch.setattr(ServiceClient, "start_service", refuse)
