"""Real local clusters with SharedStorage of every type and instance store: written on the head, read on a compute
node with srun; DeletionPolicy Delete / Retain / Snapshot at delete-cluster; FSx DRA import and export; EBS RAID;
/scratch striped over a c5d.24xlarge node's four disks; nothing left behind."""

from __future__ import annotations

import json

import pytest
from cluster_support import HEADER, cluster_record, residue

HEAD = HEADER + """\
  SharedStorageType: Efs
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q
      ComputeResources:
        - Name: c
          InstanceType: {instance_type}
          MinCount: 1
          MaxCount: 1
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
SharedStorage:
"""


def _config(storage: str, instance_type: str = "c5.xlarge") -> str:
    return HEAD.format(instance_type=instance_type) + storage


def _registry(cli) -> dict[str, dict]:
    return {entry["id"]: entry for entry in cli.json("storage", "list")["storage"]}


def _node_exec(cli, cluster: str, node: str, argv: list[str]):
    from paracluster.providers.local.nodes.instances import node_exec

    record = cluster_record(cli, cluster)
    return node_exec(record.nodes[node].instance.pid, argv, timeout=30)


def _no_residue(cli, cluster: str) -> None:
    left = residue(cli.state_dir, cluster)
    assert all(not items for items in left.values()), left


@pytest.fixture(scope="module")
def every_type(cli):
    """One cluster with every storage type: new Efs, FsxLustre (DRA + ImportPath), Ebs (Snapshot), Ebs RAID 1,
    existing FsxOntap, FsxOpenZfs and FileCache volumes, and a c5d.24xlarge compute node."""
    source = cli.tmp / "import"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "data.txt").write_text("from the bucket\n")
    cli.json("s3", "cp", str(source), "s3://stor-bucket/dra/")
    ontap = cli.json("storage", "create-volume", "--type", "FsxOntap")["created"]["id"]
    zfs = cli.json("storage", "create-volume", "--type", "FsxOpenZfs")["created"]["id"]
    cache = cli.json("storage", "create-file-cache")["created"]["id"]
    storage = f"""\
  - Name: efs
    StorageType: Efs
    MountDir: /efs
  - Name: lustre
    StorageType: FsxLustre
    MountDir: /lustre
    FsxLustreSettings:
      StorageCapacity: 1200
      DeploymentType: PERSISTENT_2
      PerUnitStorageThroughput: 125
      DataRepositoryAssociations:
        - Name: dra
          DataRepositoryPath: s3://stor-bucket/dra
          FileSystemPath: /ns1
          AutoExportPolicy: [NEW, CHANGED]
  - Name: ebs
    StorageType: Ebs
    MountDir: /ebs
    EbsSettings:
      Size: 8
      DeletionPolicy: Snapshot
  - Name: raid
    StorageType: Ebs
    MountDir: /raid
    EbsSettings:
      Size: 8
      Raid:
        Type: 1
        NumberOfVolumes: 2
  - Name: ontap
    StorageType: FsxOntap
    MountDir: /ontap
    FsxOntapSettings:
      VolumeId: {ontap}
  - Name: zfs
    StorageType: FsxOpenZfs
    MountDir: /zfs
    FsxOpenZfsSettings:
      VolumeId: {zfs}
  - Name: cache
    StorageType: FileCache
    MountDir: /cache
    FileCacheSettings:
      FileCacheId: {cache}
"""
    cluster = "stor-all"
    described = cli.create(cluster, _config(storage, "c5d.24xlarge"))
    assert described["clusterStatus"] == "CREATE_COMPLETE", described
    yield {"name": cluster, "existing": {ontap, zfs, cache}}
    cli.run("delete-cluster", "-n", cluster, "--wait")


DIRS = ("/efs", "/lustre", "/ebs", "/raid", "/ontap", "/zfs", "/cache")


def test_written_on_head_read_on_compute(cli, every_type):
    cluster = every_type["name"]
    write = " && ".join(f"echo {d} > {d}/marker.txt" for d in DIRS)
    assert cli.ssh(cluster, write).returncode == 0
    read = " ".join(f"{d}/marker.txt" for d in DIRS)
    result = cli.ssh(cluster, f"srun -N1 -t 1 cat {read}", timeout=60)
    assert result.stdout.split() == list(DIRS), result.stderr
    modes = cli.ssh(cluster, f"stat -c '%a' {' '.join(DIRS)}").stdout.split()
    assert modes == ["1777"] * len(DIRS)


def test_fsx_lustre_imports_from_the_bucket(cli, every_type):
    result = cli.ssh(every_type["name"], "srun -N1 -t 1 cat /lustre/ns1/sub/data.txt")
    assert result.stdout == "from the bucket\n", result.stderr


def test_ebs_is_a_loop_filesystem_and_raid_is_btrfs_raid1(cli, every_type):
    mounts = _node_exec(cli, every_type["name"], "head", ["findmnt", "-n", "-l", "-o", "TARGET,FSTYPE,SOURCE"]).stdout
    by_target = {line.split()[0]: line.split()[1:] for line in mounts.splitlines()}
    assert by_target["/ebs"][0] == "ext4" and by_target["/ebs"][1].startswith("/dev/loop")
    assert by_target["/raid"][0] == "btrfs"
    show = _node_exec(cli, every_type["name"], "head", ["btrfs", "filesystem", "df", "/raid"]).stdout
    assert "Data, RAID1" in show, show


def test_scratch_is_striped_over_four_instance_store_disks(cli, every_type):
    node = "q-st-c-1"
    show = _node_exec(cli, every_type["name"], node, ["btrfs", "filesystem", "show", "/scratch"]).stdout
    assert show.count("devid") == 4, show
    usage = _node_exec(cli, every_type["name"], node, ["btrfs", "filesystem", "df", "/scratch"]).stdout
    assert "Data, RAID0" in usage, usage
    df = cli.ssh(every_type["name"], "srun -N1 -t 1 df -k --output=target,size /scratch").stdout.split()
    assert df[-2] == "/scratch" and 3 * 1024**2 < int(df[-1]) <= 4 * 1024**2, df  # capped at 4 GiB per node
    log = cli.ssh(every_type["name"], "srun -N1 -t 1 cat /var/log/parallelcluster/ephemeral.log").stdout
    assert "btrfs-raid0 over 4 of 4 disk(s)" in log
    modes = cli.ssh(every_type["name"], "srun -N1 -t 1 stat -c %a /scratch").stdout.strip()
    assert modes == "1777"


def test_delete_follows_deletion_policy_and_leaves_nothing(cli, every_type):
    cluster = every_type["name"]
    before = _registry(cli)
    ebs = next(e for e in before.values() if e.get("name") == "ebs" and e["type"] == "Ebs")
    # SharedStorageType: Efs: the internal shared dirs (here /home) live on a managed EFS of the cluster.
    (internal,) = [e for e in before.values() if e.get("name") == "internal-shared-dirs"]
    assert internal["type"] == "Efs" and cluster in internal["attachments"]
    assert cli.ssh(cluster, "echo hi > ~/internal.txt").returncode == 0
    assert list((cli.state_dir / "storage" / internal["id"] / "data" / "home").glob("*/internal.txt"))
    # Imported directories belong to root, as on FSx without POSIX metadata in the bucket.
    assert _node_exec(cli, cluster, "head", ["sh", "-c", "echo exported > /lustre/ns1/out.txt"]).returncode == 0
    cli.json("delete-cluster", "-n", cluster, "--wait")
    after = _registry(cli)
    # Delete: the cluster's own file systems and volumes are gone; existing ones stay, detached.
    assert not [e for e in after.values() if e.get("createdBy") == cluster and e["type"] != "Snapshot"]
    assert every_type["existing"] <= set(after) and all(not after[i]["attachments"] for i in every_type["existing"])
    # Snapshot: the volume is gone, a snapshot of it remains.
    snapshots = [e for e in after.values() if e["type"] == "Snapshot" and e.get("volumeId") == ebs["id"]]
    assert len(snapshots) == 1
    # DRA export at delete.
    exported = {o["key"] for o in cli.json("s3", "ls", "s3://stor-bucket/dra/")["objects"]}
    assert "dra/out.txt" in exported
    _no_residue(cli, cluster)
    every_type["snapshot"] = snapshots[0]["id"]


def test_snapshot_restores_into_a_new_volume(cli, every_type):
    snapshot = every_type.get("snapshot")
    if snapshot is None:
        pytest.skip("the delete test did not leave a snapshot")
    storage = f"""\
  - Name: restored
    StorageType: Ebs
    MountDir: /restored
    EbsSettings:
      Size: 10
      SnapshotId: {snapshot}
"""
    cluster = "stor-snap"
    assert cli.create(cluster, _config(storage))["clusterStatus"] == "CREATE_COMPLETE"
    result = cli.ssh(cluster, "srun -N1 -t 1 cat /restored/marker.txt; df -k --output=size /restored | tail -1")
    lines = result.stdout.split()
    assert lines[0] == "/ebs" and int(lines[1]) > 9 * 1024**2, result.stdout + result.stderr
    cli.json("delete-cluster", "-n", cluster, "--wait")
    cli.json("storage", "delete", snapshot)
    _no_residue(cli, cluster)


def test_retain_keeps_storage_for_a_later_cluster(cli):
    """Retain keeps Efs, Ebs and FsxLustre (here /home, filled from ImportPath) for a cluster that names their ids."""
    source = cli.tmp / "home-import"
    source.mkdir()
    (source / "readme.txt").write_text("imported into /home\n")
    cli.json("s3", "cp", str(source), "s3://stor-home/import/")
    storage = """\
  - Name: shared
    StorageType: Efs
    MountDir: /shared
    EfsSettings:
      DeletionPolicy: Retain
  - Name: vol
    StorageType: Ebs
    MountDir: /vol
    EbsSettings:
      Size: 8
      DeletionPolicy: Retain
  - Name: home
    StorageType: FsxLustre
    MountDir: /home
    FsxLustreSettings:
      StorageCapacity: 1200
      ImportPath: s3://stor-home/import
      DeletionPolicy: Retain
"""
    first = "stor-ret1"
    assert cli.create(first, _config(storage))["clusterStatus"] == "CREATE_COMPLETE"
    assert cli.ssh(first, "srun -N1 -t 1 cat /home/readme.txt").stdout == "imported into /home\n"
    assert cli.ssh(first, "echo kept > /shared/a && echo kept > /vol/a && echo kept > ~/a").returncode == 0
    ids = {e["name"]: e["id"] for e in _registry(cli).values()
           if e.get("createdBy") == first and e["name"] != "internal-shared-dirs"}  # that one goes with the cluster
    # An EBS volume attaches to one cluster at a time.
    clash = cli.config(_config(f"""\
  - Name: vol
    StorageType: Ebs
    MountDir: /vol
    EbsSettings:
      VolumeId: {ids['vol']}
"""))
    refused = cli.run("create-cluster", "-n", "stor-clash", "-c", str(clash))
    assert refused.returncode == 1 and json.loads(refused.stdout)["message"] == (
        f"SharedStorage[0]/EbsSettings/VolumeId: volume {ids['vol']} is in use by cluster stor-ret1; an EBS volume "
        "attaches to one cluster at a time")
    cli.json("delete-cluster", "-n", first, "--wait")
    _no_residue(cli, first)
    assert set(ids.values()) <= set(_registry(cli))
    second = "stor-ret2"
    reuse = f"""\
  - Name: shared
    StorageType: Efs
    MountDir: /shared
    EfsSettings:
      FileSystemId: {ids['shared']}
  - Name: vol
    StorageType: Ebs
    MountDir: /vol
    EbsSettings:
      VolumeId: {ids['vol']}
  - Name: home
    StorageType: FsxLustre
    MountDir: /home
    FsxLustreSettings:
      FileSystemId: {ids['home']}
"""
    assert cli.create(second, _config(reuse))["clusterStatus"] == "CREATE_COMPLETE"
    result = cli.ssh(second, "srun -N1 -t 1 cat /shared/a /vol/a ~/a")
    assert result.stdout == "kept\n" * 3, result.stderr
    cli.json("delete-cluster", "-n", second, "--wait")
    _no_residue(cli, second)
    for storage_id in ids.values():  # existing storage outlives the cluster that used it
        assert _registry(cli)[storage_id]["attachments"] == []
        cli.json("storage", "delete", storage_id)


def test_unknown_storage_id_is_one_sentence(cli):
    config = cli.config(_config("""\
  - Name: gone
    StorageType: Efs
    MountDir: /gone
    EfsSettings:
      FileSystemId: fs-0123456789abcdef0
"""))
    result = cli.run("create-cluster", "-n", "stor-bad", "-c", str(config))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["message"] == (
        "SharedStorage[0]/EfsSettings/FileSystemId: Efs storage fs-0123456789abcdef0 does not exist on the local "
        "provider; create one with `paracluster storage create-file-system --type Efs` or see "
        "`paracluster storage list`")


def test_dynamic_node_gets_fresh_disks_and_loses_them_when_powered_down(cli):
    """A dynamic c5d node mounts /scratch when Slurm resumes it; its disks go when it is powered down."""
    import time

    cluster = "stor-dyn"
    text = _config("", "c5d.24xlarge").replace("MinCount: 1", "MinCount: 0").replace("SharedStorage:\n", "")
    assert cli.create(cluster, text)["clusterStatus"] == "CREATE_COMPLETE"
    node = "q-dy-c-1"
    result = cli.ssh(cluster, "srun -N1 -t 1 sh -c 'touch /scratch/x && findmnt -n -o FSTYPE /scratch'", timeout=90)
    assert result.stdout.strip() == "btrfs", result.stderr
    disks = cli.state_dir / "clusters" / cluster / "ephemeral" / node
    assert len(list(disks.glob("pcl-disk*.img"))) == 4
    down = _node_exec(cli, cluster, "head", ["scontrol", "update", f"nodename={node}", "state=power_down_force"])
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 30
    while disks.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not disks.exists()
    assert not [line for line in residue(cli.state_dir, cluster)["loop devices"] if f"/ephemeral/{node}/" in line]
    cli.json("delete-cluster", "-n", cluster, "--wait")
    _no_residue(cli, cluster)
