"""`paracluster delete-cluster-instances` and `get-cluster-stack-events`."""

from __future__ import annotations

import argparse

from paracluster.cli.cluster_verbs import add_common_arguments as _common


def add_delete_cluster_instances_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool

    _common(parser)
    parser.add_argument("--force", type=to_bool, default=False, metavar="FORCE",
                        help="Force the deletion also when the cluster with the given name is not found. "
                             "(Defaults to 'false'.)")


def run_delete_cluster_instances(args: argparse.Namespace) -> None:
    """Prints nothing on success, as pcluster (its API answers 202 with no body)."""
    from paracluster import api

    api.delete_cluster_instances(cluster_name=args.cluster_name, force=args.force, region=args.region,
                                 provider_name=args.provider)


def add_get_cluster_stack_events_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--next-token", help="Token to use for paginated requests.")


def run_get_cluster_stack_events(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.get_cluster_stack_events(cluster_name=args.cluster_name, next_token=args.next_token,
                                        region=args.region, provider_name=args.provider)
