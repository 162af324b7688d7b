"""A local node's own /etc: the host's people stay out, an image's accounts and units come in."""

from __future__ import annotations

import os

from paracluster.providers.local.nodes import rootfs

HOST_PASSWD = """\
root:x:0:0:root:/root:/bin/bash
munge:x:103:106::/nonexistent:/usr/sbin/nologin
slurm:x:64030:64030::/nonexistent:/usr/sbin/nologin
debian:x:1000:1000:Debian:/home/debian:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
HOST_GROUP = """\
root:x:0:
sudo:x:27:debian
munge:x:106:
slurm:x:64030:
debian:x:1000:
nogroup:x:65534:
"""
HOST_SHADOW = "root:*:19000:0:99999:7:::\ndebian:$6$x:19000:0:99999:7:::\n"
HOST_GSHADOW = "root:*::\nsudo:*::debian\ndebian:!::\n"


def test_the_hosts_people_and_their_memberships_stay_out():
    people = rootfs.host_people(HOST_PASSWD, HOST_GROUP)
    assert people == ({"debian"}, {"debian"})
    files = rootfs.without_people(HOST_PASSWD, HOST_GROUP, HOST_SHADOW, HOST_GSHADOW, people)
    assert [line.split(":")[0] for line in files["passwd"].splitlines()] == ["root", "munge", "slurm", "nobody"]
    assert "sudo:x:27:\n" in files["group"] and "debian" not in files["group"]
    assert files["shadow"] == "root:*:19000:0:99999:7:::\n"
    assert files["gshadow"] == "root:*::\nsudo:*::\n"


def test_accounts_an_image_added_stay():
    image_passwd = HOST_PASSWD.replace("debian:x:1000:1000:Debian:/home/debian:/bin/bash\n", "") + \
        "builder:x:1500:1500::/home/builder:/bin/bash\n"
    image_group = HOST_GROUP.replace("debian:x:1000:\n", "").replace("sudo:x:27:debian", "sudo:x:27:builder") + \
        "builder:x:1500:\n"
    files = rootfs.without_people(image_passwd, image_group, "", "", rootfs.host_people(HOST_PASSWD, HOST_GROUP))
    assert "builder:x:1500:1500" in files["passwd"] and "sudo:x:27:builder" in files["group"]


def test_units_an_image_installed_reach_the_nodes_opaque_unit_directory(tmp_path):
    lower_image, upper = tmp_path / "layer", tmp_path / "upper"
    units = lower_image / "etc/systemd/system"
    (units / "multi-user.target.wants").mkdir(parents=True)
    (units / "site.service").write_text("[Service]\nExecStart=/bin/true\n")
    (units / "multi-user.target.wants/site.service").symlink_to("/etc/systemd/system/site.service")
    os.mknod(units / "hidden.service", 0o600 | 0o020000, os.makedev(0, 0))  # a whiteout
    spec = {"hostname": "n1", "services": [], "overlay": {"lower": f"{lower_image}:/"}}
    rootfs.prepare_upper(spec, upper, "/usr/bin/python3", "/x")
    system = upper / "etc/systemd/system"
    assert (system / "site.service").read_text().startswith("[Service]")
    assert os.readlink(system / "multi-user.target.wants/site.service") == "/etc/systemd/system/site.service"
    assert not (system / "hidden.service").exists()
    assert (system / "paracluster-bootstrap.service").is_file()
    assert os.getxattr(system, "trusted.overlay.opaque") == b"y"
