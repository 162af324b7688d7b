"""DevSettings validators of ParallelCluster 3.15-3.16: ExtraChefAttributes and the image's CliAttributeOverrides."""

from __future__ import annotations

import json

import pytest

from helpers import BASE_CLUSTER, findings

IMAGE = "Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-12345678\nDevSettings:\n"


def chef(attributes: dict, base: str = BASE_CLUSTER + "DevSettings:\n") -> str:
    return base + f"  Cookbook:\n    ExtraChefAttributes: '{json.dumps(attributes)}'\n"


def image_overrides(text: str) -> str:
    return IMAGE + f"  CliAttributeOverrides: '{text}'\n"


@pytest.mark.parametrize("attributes", [
    {}, {"cluster": {"slurm": {"reconfigure_timeout": 301}}}, {"cluster": {"cluster_readiness_check_enabled": True}},
    {"cluster": {"cluster_readiness_check_ignore_failure": "false"}}, {"other": {"slurm": "x"}},
])
def test_chef_attributes_pass(attributes):
    assert findings(chef(attributes), "ExtraChefAttributesValidator") == []


WHERE = "DevSettings/Cookbook/ExtraChefAttributes (line 19): "


@pytest.mark.parametrize(("attributes", "expected"), [
    ({"cluster": {"slurm": {"reconfigure_timeout": 300}}},
     ("ERROR", "the attribute cluster.slurm.reconfigure_timeout is 300; set it above 300 seconds")),
    ({"cluster": {"slurm": {"reconfigure_timeout": "600"}}},
     ("ERROR", "the attribute cluster.slurm.reconfigure_timeout must be an integer number of seconds, not '600'")),
    ({"cluster": {"slurm": {"reconfigure_timeout": True}}},
     ("ERROR", "the attribute cluster.slurm.reconfigure_timeout must be an integer number of seconds, not True")),
    ({"cluster": {"cluster_readiness_check_enabled": "no"}},
     ("ERROR", "the attribute cluster.cluster_readiness_check_enabled must be true or false, not 'no'")),
    ({"cluster": {"cluster_readiness_check_enabled": "False"}},
     ("WARNING", "cluster.cluster_readiness_check_enabled = false disables the cluster readiness check; "
                 "create-cluster and update-cluster can then succeed while some nodes did not finish applying the "
                 "configuration")),
    ({"cluster": {"cluster_readiness_check_ignore_failure": True}},
     ("WARNING", "cluster.cluster_readiness_check_ignore_failure = true ignores failures of the cluster readiness "
                 "check; create-cluster and update-cluster can then succeed while some nodes did not finish applying "
                 "the configuration")),
])
def test_chef_attributes(attributes, expected):
    level, message = expected
    assert findings(chef(attributes), "ExtraChefAttributesValidator") == [(level, WHERE + message)]


def test_chef_attributes_of_image_configs():
    bad = chef({"cluster": {"slurm": {"reconfigure_timeout": 10}}}, base=IMAGE)
    found = findings(bad, "ExtraChefAttributesValidator", kind="image", cluster_name=None)
    assert found == [("ERROR", "DevSettings/Cookbook/ExtraChefAttributes (line 6): the attribute "
                               "cluster.slurm.reconfigure_timeout is 10; set it above 300 seconds")]


def test_cli_attribute_overrides():
    def check(text: str) -> list:
        return findings(image_overrides(text), "CliAttributeOverridesValidator", kind="image", cluster_name=None)

    assert check('{"cinc_version": "18.4", "cinc_installer_url": "https://example.com/cinc.sh"}') == []
    assert check("") == []
    assert check("[1, 2]") == [("ERROR", "DevSettings/CliAttributeOverrides (line 5): must be a JSON object of "
                                          "attribute names and values, not a list")]
    assert check("{cinc") == [("ERROR", "DevSettings/CliAttributeOverrides (line 5): '{cinc' is not valid JSON; "
                                         'write a JSON object such as {"cinc_version": "18"}')]
