"""`paracluster s3 cp|ls|rm`: fill and inspect the local provider's buckets (for `s3://` scripts and FSx imports)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="s3_action", metavar="ACTION", required=True)
    cp = actions.add_parser("cp", help="Copy a local file or directory to s3://BUCKET/KEY, or an object to a file.")
    cp.add_argument("source", help="A local path or an s3:// URL.")
    cp.add_argument("destination", help="An s3:// URL or a local path.")
    ls = actions.add_parser("ls", help="List the buckets, or the objects under s3://BUCKET/PREFIX.")
    ls.add_argument("url", nargs="?", help="s3://BUCKET[/PREFIX]")
    rm = actions.add_parser("rm", help="Remove an object, a prefix ending in '/', or a whole bucket.")
    rm.add_argument("url", help="s3://BUCKET[/KEY]")


def run(args: argparse.Namespace) -> dict:
    from paracluster import api
    from paracluster.errors import BadRequestError

    buckets = api.services().buckets
    if args.s3_action == "ls":
        return {"objects" if args.url else "buckets": buckets.list(args.url)}
    if args.s3_action == "rm":
        return {"removed": buckets.remove(args.url)}
    if args.source.startswith("s3://") and not args.destination.startswith("s3://"):
        return {"copied": buckets.get(args.source, Path(args.destination))}
    if args.destination.startswith("s3://") and not args.source.startswith("s3://"):
        return {"copied": buckets.put(Path(args.source), args.destination)}
    raise BadRequestError("s3 cp copies between a local path and an s3:// URL; give exactly one s3:// argument")
