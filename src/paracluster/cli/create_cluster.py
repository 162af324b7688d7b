"""`paracluster create-cluster`: validate a cluster configuration and create the cluster (or only validate)."""

from __future__ import annotations

import argparse

from paracluster.cli.cluster_verbs import add_provider_argument
from paracluster.cli.validation_args import add_validation_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool

    add_validation_arguments(parser)
    parser.add_argument(
        "--rollback-on-failure",
        type=to_bool,
        default=True,
        metavar="ROLLBACK_ON_FAILURE",
        help="When set, a failed create is rolled back. (Defaults to 'true'.)",
    )
    parser.add_argument("-n", "--cluster-name", required=True, help="Name of the cluster that will be created.")
    parser.add_argument(
        "-c", "--cluster-configuration", required=True, help="Cluster configuration file (YAML)."
    )
    add_provider_argument(parser)
    parser.add_argument("--wait", action="store_true", help="Wait for the create to end, showing progress on stderr.")


def run(args: argparse.Namespace) -> dict:
    from paracluster import api
    from paracluster.cli.output import debug_log
    from paracluster.cli.validation_args import cluster_request
    from paracluster.cli.waiting import wait_for_cluster

    debug_log(args, "create-cluster %s from %s (dryrun=%s)", args.cluster_name, args.cluster_configuration, args.dryrun)
    answer = api.create_cluster(**cluster_request(args), rollback_on_failure=args.rollback_on_failure)
    return wait_for_cluster(args, answer, "create") if args.wait else answer
