"""Pure parts of the local provider's networking: subnet choice and node addresses."""

from __future__ import annotations

import ipaddress

import pytest

from paracluster.errors import ClusterError
from paracluster.providers.local.nodes import network


def net(text):
    return ipaddress.ip_network(text)


def test_first_free_subnet_skips_clusters_and_host_networks():
    index, subnet = network.choose_subnet("10.187.0.0/16", 21, [net("10.187.0.0/21")], [net("10.187.8.0/24")])
    assert (index, str(subnet)) == (2, "10.187.16.0/21")


def test_bridge_numbers_in_use_on_the_host_are_skipped():
    # Another state directory's cluster took bridge 0 (and 1) before giving its bridge an address.
    index, subnet = network.choose_subnet("10.187.0.0/16", 21, [], [], frozenset({0, 1}))
    assert (index, str(subnet)) == (2, "10.187.16.0/21")


def test_exhausted_pool_is_one_sentence():
    with pytest.raises(ClusterError, match="every /17 of 10.0.0.0/16 is in use"):
        network.choose_subnet("10.0.0.0/16", 17, [net("10.0.0.0/17"), net("10.0.128.0/17")], [])


def test_node_addresses_and_capacity():
    subnet = net("10.187.8.0/21")
    assert network.node_address(subnet, 0) == "10.187.8.2"
    assert network.node_address(subnet, 2044) == "10.187.15.254"
    with pytest.raises(ClusterError, match="has room for 2045 nodes"):
        network.node_address(subnet, 2045)


def test_interface_names_fit_linux_limit():
    assert len(network.veth_name(4095, 2045)) <= 15 and len(network.bridge_name(4095)) <= 15
