"""`paracluster storage ...`: make and remove the local provider's "existing" storage that configs name by id."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="storage_action", metavar="ACTION", required=True)
    actions.add_parser("list", help="List file systems, volumes, file caches and snapshots with their attachments.")
    fs = actions.add_parser("create-file-system", help="Create an EFS or FSx for Lustre file system (FileSystemId).")
    fs.add_argument("--type", required=True, choices=("Efs", "FsxLustre"), dest="storage_type")
    fs.add_argument("--name", help="A name to recognize it by.")
    fs.add_argument("--id", dest="storage_id", metavar="fs-...",
                    help="The id to give it (an id from an AWS account, so configs naming it run unchanged).")
    volume = actions.add_parser("create-volume", help="Create an EBS volume or an FSx ONTAP/OpenZFS volume (VolumeId).")
    volume.add_argument("--type", required=True, choices=("Ebs", "FsxOntap", "FsxOpenZfs"), dest="storage_type")
    volume.add_argument("--size", type=int, default=1, help="Ebs: size in GiB (a sparse file; default 1).")
    volume.add_argument("--name", help="A name to recognize it by.")
    volume.add_argument("--id", dest="storage_id", metavar="vol-...|fsvol-...",
                        help="The id to give it (an id from an AWS account, so configs naming it run unchanged).")
    cache = actions.add_parser("create-file-cache", help="Create a File Cache (FileCacheId).")
    cache.add_argument("--name", help="A name to recognize it by.")
    cache.add_argument("--id", dest="storage_id", metavar="fc-...",
                       help="The id to give it (an id from an AWS account, so configs naming it run unchanged).")
    delete = actions.add_parser("delete", help="Delete a file system, volume, file cache or snapshot no cluster uses.")
    delete.add_argument("storage_id", metavar="ID")


def run(args: argparse.Namespace) -> dict:
    from paracluster import api

    storage = api.services().storage
    action = args.storage_action
    if action == "list":
        return storage("list")
    if action == "delete":
        return storage("delete", storage_id=args.storage_id)
    if action == "create-volume":
        return storage("create-volume", storage_type=args.storage_type, size=args.size, name=args.name,
                       storage_id=args.storage_id)
    kind = "FileCache" if action == "create-file-cache" else args.storage_type
    return storage("create-file-system", storage_type=kind, name=args.name, storage_id=args.storage_id)
