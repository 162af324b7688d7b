"""Listening sockets inside other network namespaces: enter one from the calling thread, bind there, come back.

A socket stays in the namespace it was created in, so one process can serve many node namespaces, each through its
own socket, without a process, a forwarder or a netfilter rule per node. Only the calling thread changes namespace
(setns on a thread affects that thread alone), and it always returns to the namespace it came from.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import os
import socket
import struct

CLONE_NEWNET = 0x40000000
SIOCGIFHWADDR = 0x8927

# rtnetlink (linux/rtnetlink.h): add a route of type "local" (delivered to this namespace) to the local table.
RTM_NEWROUTE = 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_CREATE = 0x1, 0x4, 0x100, 0x400
NLMSG_ERROR = 2
RT_TABLE_LOCAL = 255
RTPROT_STATIC = 4
RT_SCOPE_HOST = 254
RTN_LOCAL = 2
RTA_DST, RTA_OIF = 1, 4

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


@contextlib.contextmanager
def entered(netns: str):
    """Run the block with the calling thread in the network namespace at path `netns` (e.g. /run/netns/NAME)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            yield os.fstat(target).st_ino
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def namespace_id(netns: str) -> int | None:
    """The namespace's inode number (its identity), or None if nothing is at that path any more."""
    try:
        return os.stat(netns).st_ino
    except OSError:
        return None


def _add_local_route(address: str) -> None:
    """`ip route replace local ADDRESS/32 dev lo table local` in the current thread's namespace, by rtnetlink."""
    attrs = struct.pack("HH4s", 8, RTA_DST, ipaddress.IPv4Address(address).packed)
    attrs += struct.pack("HHi", 8, RTA_OIF, socket.if_nametoindex("lo"))
    body = struct.pack("BBBBBBBBI", socket.AF_INET, 32, 0, 0, RT_TABLE_LOCAL, RTPROT_STATIC, RT_SCOPE_HOST,
                       RTN_LOCAL, 0) + attrs
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE
    message = struct.pack("IHHII", 16 + len(body), RTM_NEWROUTE, flags, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as link:
        link.settimeout(5)
        link.send(message)
        reply = link.recv(65536)
    kind = struct.unpack_from("H", reply, 4)[0]
    error = struct.unpack_from("i", reply, 16)[0] if kind == NLMSG_ERROR else 0
    if error:
        raise OSError(-error, f"failed to add a local route for {address}: {os.strerror(-error)}")


def _mac(sock: socket.socket, interface: str) -> str:
    try:
        answer = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", interface.encode()[:15]))
    except OSError:
        return ""
    return ":".join(f"{byte:02x}" for byte in answer[18:24])


def listen_in(netns: str, address: str, port: int, interface: str = "eth0") -> tuple[socket.socket, int, str]:
    """A TCP socket listening on address:port inside `netns`, which gets a local route for `address` first.

    Returns (socket, namespace id, MAC address of `interface` there or ""). The address answers only inside that
    namespace: the route and the socket exist nowhere else.
    """
    with entered(netns) as namespace:
        _add_local_route(address)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(64)
            sock.setblocking(False)
            mac = _mac(sock, interface)
        except OSError:
            sock.close()
            raise
    return sock, namespace, mac
