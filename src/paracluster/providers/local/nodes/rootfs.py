"""A local node's own layer over the host's root: its systemd configuration and an account database like an AMI's.

Written into the node's overlay upper layer before it boots. The node's root is the host's, so the host's people
(uids from 1000 on) would otherwise be the node's users too, and take the uids ParallelCluster's AMIs give the
cluster's default user: the node keeps the base system's accounts (and those an image added), and the node agent
adds the cluster's.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from paracluster.node.units import system_files

# Debian's uid and gid ranges (its policy, 9.2.2): people are 1000-59999 (and 65536 and up); below 1000, 60000-64999
# (Debian's static ids for packages: slurm is 64030) and nobody are the system's.
PEOPLE = range(1000, 60000)
NOBODY = 65534


def _person_id(value: str) -> bool:
    return value.isdigit() and (int(value) in PEOPLE or (int(value) >= 65000 and int(value) != NOBODY))


def host_people(host_passwd: str, host_group: str) -> tuple[set[str], set[str]]:
    """The names of the host's people and of their groups (pure): what a node must not inherit from the host."""
    users = {line.split(":", 1)[0] for line in host_passwd.splitlines()
             if line.count(":") >= 6 and _person_id(line.split(":")[2])}
    groups = {line.split(":", 1)[0] for line in host_group.splitlines()
              if line.count(":") == 3 and _person_id(line.split(":")[2])}
    return users, groups


def without_people(passwd: str, group: str, shadow: str, gshadow: str, people: tuple[set[str], set[str]]) -> dict:
    """The account files without the host's people (pure): their entries go, and so do their group memberships (a
    host user in `sudo` or `adm` would otherwise come along). Accounts an image added stay."""
    users_out, groups_out = people
    users = [line for line in passwd.splitlines() if line.count(":") >= 6 and line.split(":", 1)[0] not in users_out]
    names = {line.split(":", 1)[0] for line in users}
    groups = []
    for line in group.splitlines():
        fields = line.split(":")
        if len(fields) == 4 and fields[0] not in groups_out:
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


def lower_file(lower: str, path: str) -> str:
    """A file as the node's lower layers show it (an image's layers over the host's root, top first): an image's
    accounts come through; a whiteout hides the file."""
    for layer in lower.split(":"):
        candidate = Path(layer) / path.lstrip("/")
        if candidate.is_char_device():
            return ""
        if candidate.exists():
            return _read(str(candidate))
    return ""


def prepare_upper(spec: dict, upper: Path, python: str, pythonpath: str) -> None:
    """The node's /etc in its upper layer: its own units only, a machine id, its hostname, system accounts."""
    files, links = system_files(spec, python, pythonpath)
    system = upper / "etc/systemd/system"
    system.mkdir(parents=True, exist_ok=True)
    # Opaque: none of the host's units, wants or aliases in /etc/systemd/system show through.
    os.setxattr(system, "trusted.overlay.opaque", b"y")
    lower = spec["overlay"]["lower"]
    _image_units(lower, system)
    people = host_people(_read("/etc/passwd"), _read("/etc/group"))
    accounts = without_people(*(lower_file(lower, f"/etc/{name}") for name in ("passwd", "group", "shadow",
                                                                                "gshadow")), people)
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


def _image_units(lower: str, system: Path) -> None:
    """Units and wants an image installed (its layers' /etc/systemd/system, lowest first), copied into the node's
    opaque one: an image that enables a service starts it on every node booted from it. The node's own units,
    written after, keep ParallelCluster's names for the node's daemons."""
    for layer in reversed([layer for layer in lower.split(":") if layer.rstrip("/")]):
        source = Path(layer) / "etc/systemd/system"
        if not source.is_dir():
            continue
        for folder, directories, files in os.walk(source):
            relative = Path(folder).relative_to(source)
            (system / relative).mkdir(parents=True, exist_ok=True)
            for name in files + [d for d in directories if os.path.islink(os.path.join(folder, d))]:
                entry, target = Path(folder) / name, system / relative / name
                if os.path.lexists(target):
                    target.unlink()
                if entry.is_symlink():
                    target.symlink_to(os.readlink(entry))
                elif entry.is_file():  # a whiteout (a character device) hides a lower layer's unit: nothing to copy
                    shutil.copy2(entry, target)


def _group_id(name: str) -> int | None:
    import grp

    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None
