"""Validators of shared storage as a whole: mount directories, how many of each kind, deletion policies."""

from __future__ import annotations

from collections import defaultdict

from paracluster.config.validate.core import Context, Report, validator

# Directories of the operating system or of ParallelCluster itself; a shared file system mounted over one would hide
# what the nodes need. Exact matches only, as in ParallelCluster: /opt is reserved but /opt/ and /opt/data are not.
RESERVED_MOUNT_DIRS = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib64",
    "/media",
    "/mnt",
    "/opt",
    "/opt/parallelcluster",
    "/opt/parallelcluster/shared",
    "/opt/parallelcluster/shared_login_nodes",
    "/opt/slurm",
    "/opt/intel",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
)

# (category, limit, what to do instead) in ParallelCluster's order of checks.
STORAGE_LIMITS = (
    ("new EFS", 1, "mount further existing file systems with EfsSettings/FileSystemId"),
    ("existing EFS", 20, "remove some of them"),
    ("new FSx", 1, "mount further existing file systems with FsxLustreSettings/FileSystemId"),
    ("existing FSx", 20, "remove some of them"),
    ("new RAID", 1, "use a single RAID array"),
    ("existing RAID", 0, "remove it"),  # kept for ParallelCluster's list; a Raid section always counts as new
    ("EBS", 5, "remove some of them or use EFS or FSx"),
)


def _storage_category(storage) -> str | None:
    """Which of ParallelCluster's storage limits a SharedStorage item counts against."""
    kind = storage.storage_type
    if kind == "Efs":
        return "existing EFS" if storage.efs_settings.file_system_id else "new EFS"
    if kind == "FsxLustre":
        return "existing FSx" if storage.fsx_lustre_settings.file_system_id else "new FSx"
    if kind in ("FsxOpenZfs", "FsxOntap", "FileCache"):
        return "existing FSx"
    if kind == "Ebs":
        # A VolumeId does not make an EBS volume "existing" here: ParallelCluster counts every non-RAID one as EBS.
        return "new RAID" if storage.ebs_settings.raid.present else "EBS"
    return None


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


@validator("NumberOfStorageValidator")
def number_of_storage(context: Context, report: Report) -> None:
    by_category = defaultdict(list)
    for storage in context.config.shared_storage:
        by_category[_storage_category(storage)].append(storage)
    for category, limit, instead in STORAGE_LIMITS:
        items = by_category[category]
        if len(items) > limit:
            first_extra = items[limit]
            report.error(
                f"{first_extra.where('StorageType')}: this is the {_ordinal(limit + 1)} of {len(items)} {category} "
                f"shared storage items but a cluster supports at most {limit}; {instead}"
            )


@validator("ManagedFsxMultiAzValidator")
def managed_fsx_multi_az(context: Context, report: Report) -> None:
    config = context.config
    new_fsx = [s for s in config.shared_storage if _storage_category(s) == "new FSx"]
    if not new_fsx:
        return
    # ParallelCluster compares the distinct subnets of all queues together, not per queue.
    subnets = sorted({s for q in config.scheduling.slurm_queues + config.scheduling.aws_batch_queues
                      for s in q.networking.subnet_ids})
    if len(subnets) > 1:
        report.error(
            f"{new_fsx[0].where('StorageType')}: ParallelCluster cannot create an FSx for Lustre file system for "
            f"queues that use several subnets ({', '.join(subnets)}); mount an existing file system with "
            "FsxLustreSettings/FileSystemId or put every queue in one subnet"
        )


@validator("SharedStorageMountDirValidator")
def reserved_mount_dirs(context: Context, report: Report) -> None:
    for storage in context.config.shared_storage:
        mount_dir = storage.mount_dir if storage.mount_dir.startswith("/") else "/" + storage.mount_dir
        if mount_dir in RESERVED_MOUNT_DIRS:
            report.error(
                f"{storage.where('MountDir')}: {mount_dir} is a system or ParallelCluster directory and cannot be a "
                "shared storage mount point; choose another one such as /shared"
            )


@validator("SharedFileCacheNotHomeValidator")
def file_cache_not_home(context: Context, report: Report) -> None:
    for storage in context.config.shared_storage:
        if storage.storage_type == "FileCache" and storage.mount_dir in ("/home", "home"):
            report.error(
                f"{storage.where('MountDir')}: a FileCache cannot hold /home; mount it elsewhere and use EBS, EFS or "
                "an FSx file system for /home"
            )


_DELETION_POLICY_SETTINGS = {"Ebs": "ebs_settings", "Efs": "efs_settings", "FsxLustre": "fsx_lustre_settings"}


@validator("DeletionPolicyValidator")
def deletion_policy(context: Context, report: Report) -> None:
    for storage in context.config.shared_storage:
        section = _DELETION_POLICY_SETTINGS.get(storage.storage_type)
        if section is None:  # FSx OpenZFS/ONTAP and FileCache are always external, so never deleted
            continue
        settings = getattr(storage, section)
        policy = settings.deletion_policy
        if settings.is_set("DeletionPolicy"):
            where, how = settings.where("DeletionPolicy"), ""
        else:
            where, how = storage.where("StorageType"), " (the default for storage the cluster creates)"
        if policy == "Delete":
            report.info(
                f"{where}: DeletionPolicy is Delete{how}, so '{storage.name}' is deleted with the cluster or when "
                "removed from the config; set DeletionPolicy: Retain to keep its data"
            )
        elif policy == "Retain":
            report.info(
                f"{where}: DeletionPolicy is Retain, so '{storage.name}' is kept when the cluster is deleted or the "
                "storage is removed from the config; delete it yourself when no longer needed"
            )


def _ephemeral_mount_dirs(context: Context) -> dict[str, dict]:
    """Each instance store mount dir in use -> {"types": instance types, "nodes": the head node or queues using it}.

    A node's EphemeralVolume/MountDir counts only when its instance types have instance store volumes, as in
    ParallelCluster; types the catalog does not know are left out (InstanceTypeValidator reports them).
    """
    config = context.config
    found: dict[str, dict] = {}

    def add(mount_dir: str, types: list[str], node) -> None:
        entry = found.setdefault(mount_dir, {"types": set(), "nodes": []})
        entry["types"].update(types)
        entry["nodes"].append(node)

    head = config.head_node
    info = context.instance_type(head.instance_type)
    if info is not None and info.instance_store_disks:
        add(head.local_storage.ephemeral_volume.mount_dir, [head.instance_type], head)
    for queue in config.scheduling.slurm_queues:
        with_store = []
        for resource in queue.compute_resources:
            names = [resource.instance_type] if resource.instance_type else []
            names += [item.instance_type for item in resource.instances]
            for name in names:
                info = context.instance_type(name)
                if info is not None and info.instance_store_disks:
                    with_store.append(name)
        if with_store:
            mount_dir = queue.compute_settings.local_storage.ephemeral_volume.mount_dir
            add(mount_dir, with_store, queue)
    return found


def _node_label(node) -> str:
    return "the head node" if node.path == "HeadNode" else f"queue '{node.name}'"


@validator("DuplicateMountDirValidator")
def duplicate_mount_dirs(context: Context, report: Report) -> None:
    by_dir = defaultdict(list)
    for index, storage in enumerate(context.config.shared_storage):
        by_dir[storage.mount_dir].append((index, storage))
    for mount_dir, items in by_dir.items():
        if len(items) > 1:
            (_, second), others = items[1], [item for n, item in enumerate(items) if n != 1]
            named = ", ".join(f"SharedStorage[{index}] ('{storage.name}')" for index, storage in others)
            report.error(
                f"{second.where('MountDir')}: {mount_dir} is also the MountDir of {named}; give each shared storage "
                "its own mount directory"
            )
    for mount_dir, entry in _ephemeral_mount_dirs(context).items():
        if mount_dir in by_dir:
            _, storage = by_dir[mount_dir][0]
            nodes = " and ".join(_node_label(node) for node in entry["nodes"])
            report.warning(
                f"{storage.where('MountDir')}: {mount_dir} is also the instance store mount directory of {nodes} "
                f"({', '.join(sorted(entry['types']))}); change this MountDir or LocalStorage/EphemeralVolume/MountDir"
            )


@validator("OverlappingMountDirValidator")
def overlapping_mount_dirs(context: Context, report: Report) -> None:
    shared = context.config.shared_storage
    if not shared:
        return
    local = list(_ephemeral_mount_dirs(context))
    # (storage, the other storage or None for an instance store dir, the other dir); ParallelCluster's pair order.
    pairs = [(shared[i], shared[j], shared[j].mount_dir) for i in range(len(shared)) for j in range(i + 1, len(shared))]
    pairs += [(storage, None, mount_dir) for storage in shared for mount_dir in local]
    # Plain string prefixes, as in ParallelCluster: paths are not normalised, so /a/ and /a/b do not overlap.
    nested: dict[str, object] = {}  # what is nested in what -> the shared storage to point at
    for storage, other, other_dir in pairs:
        mine = storage.mount_dir
        label = "" if other else " (instance store)"
        if mine.startswith(other_dir + "/"):
            nested.setdefault(f"{mine} is inside {other_dir}{label}", storage)
        elif other_dir.startswith(mine + "/"):
            nested.setdefault(f"{other_dir}{label} is inside {mine}", other or storage)
    if nested:
        first = next(iter(nested.values()))
        report.error(
            f"{first.where('MountDir')}: mount directories cannot be nested, but {' and '.join(nested)}; "
            "move them apart"
        )


@validator("SharedStorageEfsSettingsValidator")
def head_node_efs_settings(context: Context, report: Report) -> None:
    # ParallelCluster 3.14: the settings describe the EFS that SharedStorageType Efs creates for the shared dirs.
    head = context.config.head_node
    if head.shared_storage_efs_settings.present and head.shared_storage_type != "Efs":
        report.error(
            f"{head.where('SharedStorageEfsSettings')}: applies only when HeadNode/SharedStorageType is Efs, "
            f"not {head.shared_storage_type}; set SharedStorageType to Efs or remove SharedStorageEfsSettings"
        )
