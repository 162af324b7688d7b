"""A local node's own layer over the host's root: its systemd configuration and an account database like an AMI's.

Written into the node's overlay upper layer before it boots. The node's root is the host's, so the host's people
(uids from 1000 on) would otherwise be the node's users too, and take the uids ParallelCluster's AMIs give the
cluster's default user: the node keeps the base system's accounts only, and the node agent adds the cluster's.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from paracluster.node.units import system_files

# Debian's uid and gid ranges (its policy, 9.2.2): people are 1000-59999 (and 65536 and up); below 1000, 60000-64999
# (Debian's static ids for packages: slurm is 64030) and nobody are the system's.
PEOPLE = range(1000, 60000)
NOBODY = 65534


def _system_id(value: str) -> bool:
    return value.isdigit() and (int(value) not in PEOPLE and (int(value) < 65000 or int(value) == NOBODY))


def system_accounts(passwd: str, group: str, shadow: str, gshadow: str) -> dict[str, str]:
    """The account files with the system accounts only (pure): people's entries go, and so do their group
    memberships (a host user in `sudo` or `adm` would otherwise come along)."""
    users = [line for line in passwd.splitlines() if line.count(":") >= 6 and _system_id(line.split(":")[2])]
    names = {line.split(":", 1)[0] for line in users}
    groups = []
    for line in group.splitlines():
        fields = line.split(":")
        if len(fields) == 4 and _system_id(fields[2]):
            fields[3] = ",".join(member for member in fields[3].split(",") if member in names)
            groups.append(":".join(fields))
    group_names = {line.split(":", 1)[0] for line in groups}
    shadows = [line for line in shadow.splitlines() if line.split(":", 1)[0] in names]
    gshadows = []
    for line in gshadow.splitlines():
        fields = line.split(":")
        if len(fields) == 4 and fields[0] in group_names:
            fields[2] = ",".join(member for member in fields[2].split(",") if member in names)
            fields[3] = ",".join(member for member in fields[3].split(",") if member in names)
            gshadows.append(":".join(fields))
    return {"passwd": _lines(users), "group": _lines(groups), "shadow": _lines(shadows), "gshadow": _lines(gshadows)}


def _lines(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def prepare_upper(spec: dict, upper: Path, python: str, pythonpath: str) -> None:
    """The node's /etc in its upper layer: its own units only, a machine id, its hostname, system accounts."""
    files, links = system_files(spec, python, pythonpath)
    system = upper / "etc/systemd/system"
    system.mkdir(parents=True, exist_ok=True)
    # Opaque: none of the host's units, wants or aliases in /etc/systemd/system show through.
    os.setxattr(system, "trusted.overlay.opaque", b"y")
    accounts = system_accounts(*(_read(f"/etc/{name}") for name in ("passwd", "group", "shadow", "gshadow")))
    modes = {"/etc/machine-id": 0o444, "/etc/shadow": 0o640, "/etc/gshadow": 0o640}
    files = {**files, "/etc/machine-id": secrets.token_hex(16) + "\n", "/etc/hostname": spec["hostname"] + "\n",
             **{f"/etc/{name}": text for name, text in accounts.items()}}
    for path, text in files.items():
        target = upper / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(modes.get(path, 0o644))
        if path in ("/etc/shadow", "/etc/gshadow"):
            shadow_gid = _group_id("shadow")
            if shadow_gid is not None:
                os.chown(target, 0, shadow_gid)
    for path, destination in links.items():
        target = upper / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(destination)


def _group_id(name: str) -> int | None:
    import grp

    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None
