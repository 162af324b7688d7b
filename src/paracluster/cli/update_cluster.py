"""`paracluster update-cluster`: plan an update against the cluster's state and apply it (or only plan it)."""

from __future__ import annotations

import argparse

from paracluster.cli.cluster_verbs import add_provider_argument
from paracluster.cli.validation_args import add_validation_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool

    parser.add_argument("-n", "--cluster-name", required=True, help="Name of the cluster.")
    add_validation_arguments(parser)
    parser.add_argument("--force-update", type=to_bool, default=False, metavar="FORCE_UPDATE",
                        help="Force update by ignoring the update validation errors. (Defaults to 'false'.)")
    parser.add_argument("-c", "--cluster-configuration", required=True, help="Cluster configuration file (YAML).")
    add_provider_argument(parser)
    parser.add_argument("--wait", action="store_true", help="Wait for the update to end, showing progress on stderr.")


def run(args: argparse.Namespace) -> dict:
    from paracluster import api
    from paracluster.cli.validation_args import cluster_request
    from paracluster.cli.waiting import wait_for_cluster

    answer = api.update_cluster(**cluster_request(args), force_update=args.force_update)
    return wait_for_cluster(args, answer, "update") if args.wait else answer
