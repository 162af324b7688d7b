"""Cluster networks of the local provider: a subnet and a bridge per cluster, a network namespace and veth per node.

Host resources carry the project prefix: bridges `pclbr<N>`, host-side veths `pclv<N>x<M>` (Linux caps interface
names at 15 characters), namespaces `paracluster-<cluster>-<node>`. Nodes get no default route: the host forwards
packets, so a route out would put nodes on the outside network.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import subprocess
import time
from pathlib import Path

from paracluster.errors import ClusterError
from paracluster.providers.local.host import commands as hostcmd

LOCK_FILE = Path("/run/lock/paracluster-network.lock")

NETNS_DIR = Path("/run/netns")
VETH_RELEASE_TIMEOUT = 5.0  # seconds a deleted node namespace's veth may take to go


def run(argv: list[str], *, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a host command; on failure raise ClusterError with the pasteable command and its output."""
    return hostcmd.run(argv, check=check, timeout=timeout)


def host_networks() -> list[ipaddress.IPv4Network]:
    """Networks already in use on the host (addresses and routes), which a cluster subnet must not overlap."""
    found = []
    for argv in (["ip", "-4", "-o", "addr", "show"], ["ip", "-4", "route", "show", "table", "all"]):
        for line in run(argv, check=False).stdout.splitlines():
            for word in line.split():
                if "/" in word or word[:1].isdigit():
                    try:
                        network = ipaddress.ip_network(word, strict=False)
                    except ValueError:
                        continue
                    if network.version == 4 and network.prefixlen > 0:
                        found.append(network)
    return found


def choose_subnet(
    pool: str, prefix_length: int, taken: list[ipaddress.IPv4Network], host: list[ipaddress.IPv4Network],
    bridges: frozenset[int] = frozenset(),
) -> tuple[int, ipaddress.IPv4Network]:
    """Pick the first subnet of the pool that no cluster, no host network and no existing bridge number uses;
    return (index, subnet)."""
    for index, subnet in enumerate(ipaddress.ip_network(pool).subnets(new_prefix=prefix_length)):
        if index in bridges or any(subnet.overlaps(other) for other in taken + host):
            continue
        return index, subnet
    raise ClusterError(
        f"failed to allocate a cluster network: every /{prefix_length} of {pool} is in use; delete a cluster or "
        "widen the setting local.address_pool"
    )


def bridge_name(index: int) -> str:
    return f"pclbr{index}"


def bridge_numbers() -> frozenset[int]:
    """The numbers of the pclbr<N> bridges on the host, whichever state directory they belong to."""
    return frozenset(int(path.name[len("pclbr"):]) for path in Path("/sys/class/net").glob("pclbr*")
                     if path.name[len("pclbr"):].isdigit())


@contextlib.contextmanager
def allocation_lock():
    """Host-wide lock around picking a cluster network and creating its bridge: host services with other state
    directories pick from the same pool and number their bridges and veths alike."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cluster_namespaces(cluster: str) -> list[str]:
    """Network namespaces on the host named for a cluster of this name (of any state directory)."""
    prefix = netns_name(cluster, "")
    return sorted(path.name for path in NETNS_DIR.glob(f"{prefix}*")) if NETNS_DIR.is_dir() else []


def veth_name(index: int, node_index: int) -> str:
    return f"pclv{index}x{node_index}"


def netns_name(cluster: str, node: str) -> str:
    return f"paracluster-{cluster}-{node}"


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _alias(name: str) -> str:
    try:
        return Path("/sys/class/net", name, "ifalias").read_text().strip()
    except OSError:
        return ""


def gateway(subnet: ipaddress.IPv4Network) -> str:
    """The host's address on a cluster network (the subnet's first); nodes start at the next one."""
    return str(subnet.network_address + 1)


def create_bridge(index: int, subnet: ipaddress.IPv4Network, owner: str) -> None:
    """Create the cluster bridge with the host's address on it (the first of the subnet); no-op if it exists.

    `owner` (state directory and cluster) goes into the link's alias: host services with other state directories
    number their bridges alike, and one must never take or delete another's.
    """
    name = bridge_name(index)
    if not link_exists(name):
        run(["ip", "link", "add", name, "type", "bridge"])
        run(["ip", "link", "set", name, "alias", owner])
    elif _alias(name) != owner:
        raise ClusterError(f"failed to create bridge {name}: it belongs to {_alias(name) or 'someone else'}; "
                           "create the cluster again to get another network")
    address = f"{gateway(subnet)}/{subnet.prefixlen}"
    if address not in run(["ip", "-4", "-o", "addr", "show", "dev", name]).stdout:
        run(["ip", "addr", "add", address, "dev", name])
    run(["ip", "link", "set", name, "up"])


def delete_bridge(index: int, owner: str) -> None:
    name = bridge_name(index)
    if link_exists(name) and _alias(name) == owner:
        run(["ip", "link", "del", name])


def create_node_network(cluster: str, node: str, index: int, node_index: int, address: str, prefixlen: int) -> str:
    """Create the node's namespace and veth on the cluster bridge, with `address`; return the namespace path."""
    namespace = netns_name(cluster, node)
    veth = veth_name(index, node_index)
    if not (NETNS_DIR / namespace).exists():
        run(["ip", "netns", "add", namespace])
    if not link_exists(veth):
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace])
    run(["ip", "link", "set", veth, "master", bridge_name(index), "up"])
    inside = ["ip", "-n", namespace]
    run(inside + ["link", "set", "lo", "up"])
    if f"{address}/" not in run(inside + ["-4", "-o", "addr", "show", "dev", "eth0"]).stdout:
        run(inside + ["addr", "add", f"{address}/{prefixlen}", "dev", "eth0"])
    run(inside + ["link", "set", "eth0", "up"])
    return str(NETNS_DIR / namespace)


def delete_node_network(cluster: str, node: str, index: int, node_index: int) -> None:
    """Remove the node's namespace (both ends of its veth go with it)."""
    # The host end of the veth goes with the namespace; a link of that name without our namespace is another
    # state directory's (they number their links alike), so it is left alone.
    namespace = netns_name(cluster, node)
    if (NETNS_DIR / namespace).exists():
        run(["ip", "netns", "del", namespace], check=False)
        # The kernel tears a namespace down after its last user lets go (a process still exiting, a socket), and
        # its veth with it: a node booted again at once must not find the old host end still there.
        veth = veth_name(index, node_index)
        deadline = time.monotonic() + VETH_RELEASE_TIMEOUT
        while link_exists(veth) and time.monotonic() < deadline:
            time.sleep(0.01)


def node_address(subnet: ipaddress.IPv4Network, node_index: int) -> str:
    """Address of node number `node_index` (0 = head node): .1 is the host, nodes start at .2."""
    address = subnet.network_address + 2 + node_index
    if address >= subnet.broadcast_address:
        raise ClusterError(
            f"failed to address node {node_index}: the cluster network {subnet} has room for "
            f"{subnet.num_addresses - 3} nodes; lower MaxCount or the setting local.cluster_prefix_length"
        )
    return str(address)
