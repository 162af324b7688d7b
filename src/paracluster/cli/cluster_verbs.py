"""`paracluster delete-cluster`, `describe-cluster`, `list-clusters` and `describe-cluster-instances`."""

from __future__ import annotations

import argparse

CLUSTER_STATUSES = (
    "CREATE_IN_PROGRESS", "CREATE_FAILED", "CREATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED",
    "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED",
)


def add_provider_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", choices=("local", "aws"), help="Where the cluster runs (default: the "
                        "setting `provider`, which defaults to local).")


def add_common_arguments(parser: argparse.ArgumentParser, *, name: bool = True) -> None:
    """-n, -r, --provider and --query, which most cluster verbs take."""
    if name:
        parser.add_argument("-n", "--cluster-name", required=True, help="Name of the cluster.")
    parser.add_argument("-r", "--region", help="Region the operation corresponds to.")
    add_provider_argument(parser)
    parser.add_argument("--query", help="JMESPath query to perform on output.")


def add_delete_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--wait", action="store_true", help="Wait until nothing of the cluster is left.")


def run_delete_cluster(args: argparse.Namespace) -> dict:
    from paracluster import api
    from paracluster.cli.waiting import progress_printer, wait_for_delete

    answer = api.delete_cluster(cluster_name=args.cluster_name, region=args.region, provider_name=args.provider)
    if not args.wait:
        return answer
    return wait_for_delete(lambda: api.describe_cluster(cluster_name=args.cluster_name, region=args.region,
                                                        provider_name=args.provider),
                           args.cluster_name, progress_printer())


def add_describe_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)


def run_describe_cluster(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.describe_cluster(cluster_name=args.cluster_name, region=args.region, provider_name=args.provider)


def add_list_clusters_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, name=False)
    parser.add_argument("--cluster-status", nargs="+", choices=CLUSTER_STATUSES, metavar="CLUSTER_STATUS",
                        help="Only clusters in these statuses.")
    parser.add_argument("--next-token", help="Token of the next page (all clusters fit in one page locally).")


def run_list_clusters(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.list_clusters(statuses=args.cluster_status, region=args.region, provider_name=args.provider)


def add_describe_cluster_instances_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--node-type", choices=("HeadNode", "ComputeNode", "LoginNode"))
    parser.add_argument("--queue-name", help="Only instances of this queue.")
    parser.add_argument("--next-token", help="Token of the next page (all instances fit in one page locally).")


def run_describe_cluster_instances(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.describe_cluster_instances(cluster_name=args.cluster_name, node_type=args.node_type,
                                          queue_name=args.queue_name, region=args.region,
                                          provider_name=args.provider)


def add_describe_compute_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)


def run_describe_compute_fleet(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.describe_compute_fleet(cluster_name=args.cluster_name, region=args.region,
                                      provider_name=args.provider)


def add_update_compute_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--status", required=True,
                        choices=("START_REQUESTED", "STOP_REQUESTED", "ENABLED", "DISABLED"),
                        help="START_REQUESTED or STOP_REQUESTED (Slurm); ENABLED or DISABLED (AWS Batch).")


def run_update_compute_fleet(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.update_compute_fleet(cluster_name=args.cluster_name, status=args.status, region=args.region,
                                    provider_name=args.provider)
