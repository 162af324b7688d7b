"""A throw-away node network for the AWS stand-ins' tests: a pcl- bridge, namespaces on it, node-like commands.

`NodeNet` makes a bridge `pclaws<hex>` holding the host's address of a free /28, and per node a namespace
`pcl-awsapi-<hex>-<name>` with a veth on the bridge (no default route, like the local provider's nodes).
`run_on_node` runs a command as on a node: in the namespace, over an overlay of the host's root whose upper layer
holds the node's files (so /usr/local/bin/aws and the python path hook exist there and nowhere on the host), with
only the environment given. Everything is removed on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from paracluster.providers.local.nodes import network

POOL = "10.250.0.0/16"
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=60)


def metadata_address_on_host() -> list[str]:
    """Anything of 169.254.169.254 in the host's addresses, local routes or listening TCP sockets."""
    found = [line for line in sh("ip", "-4", "addr").stdout.splitlines() if "169.254.169.254" in line]
    found += [line for line in sh("ip", "route", "show", "table", "local").stdout.splitlines()
              if "169.254.169.254" in line]
    # /proc/net/tcp lists local addresses in hex, little-endian: 169.254.169.254 is FEA9FEA9.
    found += [line for line in Path("/proc/net/tcp").read_text().splitlines()[1:] if "FEA9FEA9:" in line.split()[1]]
    return found


class NodeNet:
    def __init__(self):
        self.tag = uuid.uuid4().hex[:4]
        self.bridge = f"pclaws{self.tag}br"
        self.namespaces: dict[str, str] = {}
        self.addresses: dict[str, str] = {}
        self.subnet = None
        self.gateway = ""

    def __enter__(self) -> "NodeNet":
        with network.allocation_lock():
            _, self.subnet = network.choose_subnet(POOL, 28, [], network.host_networks())
            self.gateway = network.gateway(self.subnet)
            sh("ip", "link", "add", self.bridge, "type", "bridge")
            sh("ip", "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
            sh("ip", "link", "set", self.bridge, "up")
        return self

    def add_node(self, name: str) -> str:
        """Create node `name`'s namespace on the bridge; return the namespace path."""
        index = len(self.namespaces)
        namespace = f"pcl-awsapi-{self.tag}-{name}"
        veth = f"pclaws{self.tag}v{index}"
        address = str(self.subnet.network_address + 2 + index)
        sh("ip", "netns", "add", namespace)
        self.namespaces[name] = namespace
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        sh("ip", "link", "set", veth, "master", self.bridge, "up")
        sh("ip", "-n", namespace, "link", "set", "lo", "up")
        sh("ip", "-n", namespace, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        sh("ip", "-n", namespace, "link", "set", "eth0", "up")
        self.addresses[name] = address
        return f"/run/netns/{namespace}"

    def delete_node(self, name: str) -> None:
        sh("ip", "netns", "del", self.namespaces.pop(name), check=False)

    def __exit__(self, *exc) -> None:
        for name in list(self.namespaces):
            self.delete_node(name)
        sh("ip", "link", "del", self.bridge, check=False)


@contextlib.contextmanager
def node_root(files: list[dict]):
    """Upper and work directories of an overlay whose upper layer holds `files` ({"path", "content", "mode"})."""
    base = Path(tempfile.mkdtemp(prefix="pcl-awsapi-root-"))
    try:
        for item in files:
            path = base / "upper" / item["path"].lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(item["content"])
            path.chmod(item.get("mode", 0o644))
        (base / "work").mkdir()
        (base / "root").mkdir()
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_on_node(namespace: str, root: Path, command: str, env: dict[str, str], timeout: float = 180,
                stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run shell `command` in the namespace, chrooted into an overlay of / with `root`'s upper layer, with `env`.

    `ip netns exec` gives the command a mount namespace of its own (slave to the host's), so the overlay and the
    binds vanish with it.
    """
    mount = (f"mount -t overlay overlay -o lowerdir=/,upperdir={root}/upper,workdir={root}/work {root}/root && "
             f"mount --rbind /proc {root}/root/proc && mount --rbind /dev {root}/root/dev && "
             f"mount --rbind /sys {root}/root/sys && mount -t tmpfs tmpfs {root}/root/tmp")
    quoted = command.replace("'", "'\"'\"'")
    script = f"{mount} && exec chroot {root}/root /bin/sh -c '{quoted}'"
    environment = {"PATH": NODE_PATH, "HOME": "/root", "LANG": "C.UTF-8", **env}
    return subprocess.run(["ip", "netns", "exec", namespace, "/bin/sh", "-c", script], capture_output=True, text=True,
                          env=environment, timeout=timeout, input=stdin)
