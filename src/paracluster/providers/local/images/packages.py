"""UpdateOsPackages for a build node with no route out: the host fetches what `apt-get update` and the upgrade need.

The host runs apt-get as the node would, reading the node's apt sources and dpkg status through /proc/<pid>/root,
into the build's package mirror (`lists/`, `archives/`), which the node mounts; the node's UpdateOS step then takes
its lists from there and installs the downloaded packages (the runner's --apt-dir). Sources the host cannot reach
are said so in the build log, and their packages are not upgraded. `file:` sources are read at the same path on the
host, so a local repository must be outside the node's private /tmp.
"""

from __future__ import annotations

from pathlib import Path

from paracluster.providers.local.host import commands as hostcmd

MIRROR_INSIDE = "/run/paracluster/apt"  # where build nodes mount the build's package mirror


def prepare(pid: int, mirror: Path, log) -> None:
    """Fill `mirror` with the package lists and the upgrades of the running build node `pid`."""
    root = f"/proc/{pid}/root"
    for folder in ("lists/partial", "archives/partial"):
        (mirror / folder).mkdir(parents=True, exist_ok=True)
    options = ["-q", "-o", f"Dir::Etc={root}/etc/apt", "-o", f"Dir::State::status={root}/var/lib/dpkg/status",
               "-o", f"Dir::State::Lists={mirror / 'lists'}", "-o", f"Dir::Cache::archives={mirror / 'archives'}",
               "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=", "-o", "Debug::NoLocking=1",
               # The mirror is in the root-only state directory, where apt's _apt user cannot write.
               "-o", "APT::Sandbox::User=root"]
    update = hostcmd.run(["apt-get", *options, "update"], timeout=900)
    _report(update, "apt-get update", log)
    download = hostcmd.run(["apt-get", *options, "-y", "--download-only", "upgrade", "--with-new-pkgs"],
                           timeout=3600)
    _report(download, "apt-get --download-only upgrade", log)
    count = len(list((mirror / "archives").glob("*.deb")))
    log(f"UpdateOsPackages: the host downloaded {count} package(s) for the build node")


def _report(result, what: str, log) -> None:
    """Say what the host could not reach or fetch (apt's W:, E: and Err: lines) in the build log."""
    lines = dict.fromkeys(line.strip() for line in (result.stdout + result.stderr).splitlines()
                          if line.startswith(("W:", "E:", "Err:")))
    for line in lines:
        log(f"UpdateOsPackages: {what} on the host: {line}")
    if result.returncode != 0:
        log(f"UpdateOsPackages: {what} on the host exited with code {result.returncode}; the build node upgrades "
            "only what the host could download")
