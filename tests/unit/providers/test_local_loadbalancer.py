"""The login pools' HAProxy configuration (pure) and the local buckets behind s3:// URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from paracluster.errors import BadRequestError, NotFoundError
from paracluster.providers.local.standins import buckets
from paracluster.providers.local.standins.loadbalancer import assign_ports, render_config


def test_one_tcp_frontend_per_pool_with_health_checked_sshd_servers():
    text = render_config({"users": [("login-users-1", "10.0.0.5"), ("login-users-2", "10.0.0.6")],
                          "admins": [("login-admins-1", "10.0.0.7")]},
                         {"users": ("10.0.0.1", 22), "admins": ("10.0.0.1", 2222)}, Path("/run/x"))
    assert "stats socket /run/x/haproxy.sock" in text and "mode tcp" in text
    assert "frontend login-users\n    bind 10.0.0.1:22\n    default_backend login-users" in text
    assert "    server login-users-2 10.0.0.6:22 check" in text
    assert "frontend login-admins\n    bind 10.0.0.1:2222" in text


def test_extra_ports_get_frontends_of_their_own_forwarded_and_checked_on_the_same_port():
    text = render_config({"users": [("login-users-1", "10.0.0.5")]}, {"users": ("10.0.0.1", 2222)}, Path("/run/x"),
                         {"users": [(8787, 8787), (8888, 2223)]})
    assert "frontend extra-users-8787\n    bind 10.0.0.1:8787\n    default_backend extra-users-8787" in text
    assert "backend extra-users-8888\n    balance roundrobin\n    server login-users-1 10.0.0.5:8888 check" in text
    assert "frontend extra-users-8888\n    bind 10.0.0.1:2223" in text


def test_ports_are_assigned_once_the_wanted_one_first_and_dropped_when_no_longer_asked_for():
    busy = {22, 8888}  # what the host's address has taken (sshd, another program)

    def free_port(taken, wanted):
        return next(port for port in [wanted, *range(2222, 2300)] if port not in taken | busy)

    listen: dict = {}
    assign_ports(listen, ["users", "admins"], {"users": [8787, 8888], "admins": [8787]}, "10.0.0.1", free_port)
    assert listen == {
        "users": {"address": "10.0.0.1", "port": 2222,
                  "extra": [{"target": 8787, "port": 8787}, {"target": 8888, "port": 2223}]},
        "admins": {"address": "10.0.0.1", "port": 2224, "extra": [{"target": 8787, "port": 2225}]},
    }
    assign_ports(listen, ["users", "admins"], {"users": [8888, 9000]}, "10.0.0.1", free_port)
    assert listen["users"]["extra"] == [{"target": 8888, "port": 2223}, {"target": 9000, "port": 9000}]
    assert listen["admins"] == {"address": "10.0.0.1", "port": 2224, "extra": []}


def test_buckets_put_list_get_remove(tmp_path):
    source = tmp_path / "setup.sh"
    source.write_text("echo hi\n")
    assert buckets.put(tmp_path, source, "s3://my-bucket/scripts/") == "s3://my-bucket/scripts/setup.sh"
    assert buckets.object_path(tmp_path, "s3://my-bucket/scripts/setup.sh").read_text() == "echo hi\n"
    assert [o["key"] for o in buckets.list_objects(tmp_path, "s3://my-bucket/scr")] == ["scripts/setup.sh"]
    assert buckets.list_objects(tmp_path) == [{"bucket": "my-bucket"}]
    assert buckets.remove(tmp_path, "s3://my-bucket/scripts/") == ["s3://my-bucket/scripts/setup.sh"]
    with pytest.raises(NotFoundError, match="paracluster s3 cp FILE s3://my-bucket/scripts/setup.sh"):
        buckets.object_path(tmp_path, "s3://my-bucket/scripts/setup.sh")


@pytest.mark.parametrize("url", ["http://b/k", "s3://UPPER/k", "s3://b/../k", "s3://ab/k"])
def test_bad_bucket_urls_are_one_sentence(tmp_path, url):
    with pytest.raises(BadRequestError):
        buckets.object_path(tmp_path, url)
