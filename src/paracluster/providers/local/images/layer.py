"""What of a build node's upper layer becomes the image's layer: what its components changed, not what booting it did.

A local node's upper layer starts with the node's own /etc (its systemd units, machine id, hostname and account
files; nodes/rootfs.py), and the node writes runtime state as it runs (its journal, systemd's random seed, the node
code's bytecode). The build takes a baseline of the upper layer once the build node runs; at capture, every file
that is still as the baseline has it goes, as does the runtime state, so the layer holds what the components
installed or changed (an account a component added stays: it changed the account files).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

# Runtime state of a running node, never an image's: the journal, systemd's random seed, the node-side code's
# bytecode and the node agent's marks.
RUNTIME_STATE = ("var/log/journal", "var/lib/systemd/random-seed", "opt/paracluster/lib", "var/lib/paracluster")
OPAQUE = "trusted.overlay.opaque"


def _fingerprint(path: Path) -> str:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return "link:" + os.readlink(path)
    if stat.S_ISCHR(info.st_mode):
        return "whiteout"
    if stat.S_ISREG(info.st_mode):
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        return f"file:{info.st_mode & 0o7777:o}:{info.st_uid}:{info.st_gid}:{digest.hexdigest()}"
    return "other"


def snapshot(upper: Path) -> dict[str, str]:
    """{relative path: fingerprint} of every non-directory entry of an upper layer."""
    found = {}
    for folder, directories, files in os.walk(upper):
        for name in files + [d for d in directories if os.path.islink(os.path.join(folder, d))]:
            path = Path(folder) / name
            found[str(path.relative_to(upper))] = _fingerprint(path)
    return found


def clean(upper: Path, baseline: dict[str, str]) -> list[str]:
    """Remove from `upper` what the baseline has unchanged and the runtime state; return what was removed."""
    removed = []
    for relative, fingerprint in baseline.items():
        path = upper / relative
        if os.path.lexists(path) and _fingerprint(path) == fingerprint:
            path.unlink()
            removed.append(relative)
    for relative in RUNTIME_STATE:
        path = upper / relative
        if os.path.lexists(path):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            removed.append(relative)
    system = upper / "etc/systemd/system"
    if system.is_dir() and OPAQUE in os.listxattr(system):
        os.removexattr(system, OPAQUE)  # the node's own units hid the host's; an image's units hide nothing
    _prune_empty(upper, {str(Path(relative).parent) for relative in removed})
    return removed


def _prune_empty(upper: Path, folders: set[str]) -> None:
    """Remove directories left empty, walking up from where entries were removed (the upper layer's root stays)."""
    for folder in sorted(folders, key=lambda name: name.count("/"), reverse=True):
        path = upper / folder
        while path != upper and path.is_dir() and not any(path.iterdir()) and OPAQUE not in os.listxattr(path):
            path.rmdir()
            path = path.parent
