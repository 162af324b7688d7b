"""`paracluster list-cluster-log-streams`, `get-cluster-log-events`, `export-cluster-logs` and `log-groups`."""

from __future__ import annotations

import argparse
import os

from paracluster.cli.cluster_verbs import add_common_arguments as _common

FILTERS_HELP = ("Filter the log streams. Format: 'Name=a,Values=1 Name=b,Values=2,3'. Accepted filters are: "
                "private-dns-name - The short form of the private DNS name of the instance (e.g. ip-10-0-0-101). "
                "node-type - The node type, the only accepted value for this filter is HeadNode.")


def _time_range(parser: argparse.ArgumentParser, start: str) -> None:
    parser.add_argument("--start-time", help="The start of the time range, in ISO 8601 format (e.g. "
                                             f"'2021-01-01T20:00:00Z'), included; defaults to {start}.")
    parser.add_argument("--end-time", help="The end of the time range, in ISO 8601 format, not included; defaults "
                                           "to now.")


def add_list_cluster_log_streams_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--filters", nargs="+", metavar="FILTERS", help=FILTERS_HELP)
    parser.add_argument("--next-token", help="Token to use for paginated requests.")


def run_list_cluster_log_streams(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.list_cluster_log_streams(cluster_name=args.cluster_name, filters=args.filters,
                                        next_token=args.next_token, region=args.region, provider_name=args.provider)


def add_get_cluster_log_events_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool

    _common(parser)
    parser.add_argument("--log-stream-name", required=True, help="Name of the log stream.")
    parser.add_argument("--next-token", help="Token to use for paginated requests.")
    parser.add_argument("--start-from-head", type=to_bool, metavar="START_FROM_HEAD",
                        help="If the value is true, the earliest log events are returned first. If the value is "
                             "false, the latest log events are returned first. (Defaults to 'false'.)")
    parser.add_argument("--limit", type=int, help="The maximum number of log events returned (at most 10,000 or "
                                                  "1 MB of events).")
    _time_range(parser, "the log group's first event")


def run_get_cluster_log_events(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.get_cluster_log_events(
        cluster_name=args.cluster_name, log_stream_name=args.log_stream_name, next_token=args.next_token,
        start_from_head=args.start_from_head, limit=args.limit, start_time=args.start_time, end_time=args.end_time,
        region=args.region, provider_name=args.provider)


def add_export_cluster_logs_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool

    _common(parser)
    parser.add_argument("--bucket", help="Bucket to put the archive in when no --output-file is given (a local "
                                         "bucket: see `paracluster s3`).")
    parser.add_argument("--bucket-prefix", help="Key prefix of the archive in the bucket.")
    parser.add_argument("--output-file", type=os.path.realpath,
                        help="File path to save the log archive (tar.gz) to.")
    parser.add_argument("--keep-s3-objects", type=to_bool, default=False, metavar="KEEP_S3_OBJECTS",
                        help="Accepted for pcluster's sake: the local export leaves no intermediate objects.")
    _time_range(parser, "the log group's creation time")
    parser.add_argument("--filters", nargs="+", metavar="FILTERS", help=FILTERS_HELP.replace("log streams", "logs"))


def run_export_cluster_logs(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.export_cluster_logs(
        cluster_name=args.cluster_name, output_file=args.output_file, bucket=args.bucket,
        bucket_prefix=args.bucket_prefix, start_time=args.start_time, end_time=args.end_time, filters=args.filters,
        region=args.region, provider_name=args.provider)


def add_log_groups_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli.cluster_verbs import add_provider_argument

    actions = parser.add_subparsers(dest="log_groups_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="List the clusters' log groups, also those kept after their cluster.")
    listing.add_argument("-r", "--region", help="Only log groups of this region.")
    delete = actions.add_parser("delete", help="Delete a log group whose cluster is gone (its events go too).")
    delete.add_argument("log_group_name", metavar="LOG_GROUP_NAME", help="/aws/parallelcluster/<cluster>-<time>")
    delete.add_argument("-r", "--region", help="Region of the log group.")
    for sub in (listing, delete):
        add_provider_argument(sub)
    parser.add_argument("--query", help="JMESPath query to perform on output.")


def run_log_groups(args: argparse.Namespace) -> dict:
    from paracluster import api

    if args.log_groups_action == "list":
        return api.log_groups(region=args.region, provider_name=args.provider)
    return api.delete_log_group(log_group_name=args.log_group_name, region=args.region, provider_name=args.provider)
