"""Settings: defaults, then the TOML file, then PARACLUSTER_* variables, then flags; clear errors."""

from __future__ import annotations

import pytest

from paracluster.errors import BadRequestError
from paracluster.settings import SETTINGS, load_settings


def test_defaults():
    settings = load_settings(environ={})
    assert settings.provider == "local" and settings.state_dir == "/var/lib/paracluster"
    assert settings["local.suspend_timeout"] == 2 and settings["local.capacity"] == {}
    assert all(SETTINGS[key].doc for key in SETTINGS)


def test_file_then_environment_then_flags(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('state_dir = "/srv/pc"\n[local]\nsuspend_timeout = 5\ncapacity = { "c5.xlarge" = 3 }\n')
    environ = {"PARACLUSTER_SETTINGS": str(path), "PARACLUSTER_LOCAL_SUSPEND_TIMEOUT": "7"}
    settings = load_settings({"provider": "aws"}, environ=environ)
    assert settings.state_dir == "/srv/pc"
    assert settings["local.suspend_timeout"] == 7
    assert settings["local.capacity"] == {"c5.xlarge": 3}
    assert settings.provider == "aws"
    assert settings.source == str(path)


def test_tables_in_environment_are_json():
    settings = load_settings(environ={"PARACLUSTER_LOCAL_INJECT_BOOTSTRAP_FAILURES": '{"c5.large": 2}'})
    assert settings["local.inject_bootstrap_failures"] == {"c5.large": 2}


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"PARACLUSTER_LOCAL_SUSPEND_TIMEOUT": "soon"}, "PARACLUSTER_LOCAL_SUSPEND_TIMEOUT: setting local.suspend"),
        ({"PARACLUSTER_KEEP_FAILED_NODES": "maybe"}, "it takes a bool"),
        ({"PARACLUSTER_LOCAL_ADDRESS_POOL": "10.0.0.0/33"}, "local.address_pool is not an IPv4 network"),
        ({"PARACLUSTER_LOCAL_CLUSTER_PREFIX_LENGTH": "8"}, "must be between the pool's 16 and 28"),
        ({"PARACLUSTER_SETTINGS": "/nonexistent.toml"}, "PARACLUSTER_SETTINGS names /nonexistent.toml"),
        ({"PARACLUSTER_LOGIN_EXTRA_PORTS": '{"users": 8787}'}, "pool 'users' must list its ports"),
        ({"PARACLUSTER_LOGIN_EXTRA_PORTS": '{"users": [22]}'}, "other than 22, which every pool serves"),
        ({"PARACLUSTER_LOGIN_EXTRA_PORTS": '{"users": [70000, "x"]}'}, "list TCP ports from 1 to 65535"),
    ],
)
def test_bad_settings_are_one_sentence(environ, fragment):
    with pytest.raises(BadRequestError, match=fragment.replace("(", r"\(")):
        load_settings(environ=environ)


def test_unknown_key_in_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[local]\nnope = 1\n")
    with pytest.raises(BadRequestError, match="unknown setting 'local.nope'"):
        load_settings(environ={"PARACLUSTER_SETTINGS": str(path)})


def test_login_extra_ports_are_a_table_of_port_lists(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[login_extra_ports]\nusers = [8787, "8888", 8787]\n')
    assert load_settings(environ={"PARACLUSTER_SETTINGS": str(path)})["login_extra_ports"] == {"users": [8787, 8888]}
    assert load_settings(environ={})["login_extra_ports"] == {}
