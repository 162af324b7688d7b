"""`paracluster describe-image`, `list-images`, `delete-image`, `list-official-images`, `list-image-log-streams`,
`get-image-log-events`, `export-image-logs` and `get-image-stack-events`, with pcluster's flags."""

from __future__ import annotations

import argparse

from paracluster.cli.cluster_verbs import add_provider_argument

IMAGE_STATUSES = ("AVAILABLE", "PENDING", "FAILED")


def _common(parser: argparse.ArgumentParser, *, image: bool = True, query: bool = True,
            next_token: bool = False) -> None:
    """-i, -r, --provider, --next-token and --query as the image verbs take them."""
    if image:
        parser.add_argument("-i", "--image-id", required=True, help="Id of the image.")
    parser.add_argument("-r", "--region", help="Region the operation corresponds to.")
    if next_token:
        parser.add_argument("--next-token", help="Token to use for paginated requests.")
    add_provider_argument(parser)
    if query:
        parser.add_argument("--query", help="JMESPath query to perform on output.")


def add_describe_image_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)


def run_describe_image(args: argparse.Namespace) -> dict:
    from paracluster import api_images

    return api_images.describe_image(image_id=args.image_id, region=args.region, provider_name=args.provider)


def add_list_images_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser, image=False, next_token=True)
    parser.add_argument("--image-status", required=True, choices=IMAGE_STATUSES,
                        help="Filter images by the status provided.")


def run_list_images(args: argparse.Namespace) -> dict:
    from paracluster import api_images

    return api_images.list_images(image_status=args.image_status, region=args.region, next_token=args.next_token,
                                  provider_name=args.provider)


def add_delete_image_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool

    _common(parser)
    parser.add_argument("--force", type=to_bool, default=False, metavar="FORCE",
                        help="Delete the image also when clusters use it. (Defaults to 'false'.)")


def run_delete_image(args: argparse.Namespace) -> dict:
    from paracluster import api_images

    return api_images.delete_image(image_id=args.image_id, force=args.force, region=args.region,
                                   provider_name=args.provider)


def add_list_official_images_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser, image=False)
    parser.add_argument("--os", help="Filter by OS distribution (Default is to not filter.)")
    parser.add_argument("--architecture", help="Filter by architecture (Default is to not filter.)")


def run_list_official_images(args: argparse.Namespace) -> dict:
    from paracluster import api_images

    return api_images.list_official_images(os=args.os, architecture=args.architecture, region=args.region,
                                           provider_name=args.provider)


def add_list_image_log_streams_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser, next_token=True)


def run_list_image_log_streams(args: argparse.Namespace) -> dict:
    from paracluster import api_images

    return api_images.list_image_log_streams(image_id=args.image_id, region=args.region, next_token=args.next_token,
                                             provider_name=args.provider)


def _time_range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start-time", help="Start of the time range, ISO 8601 (e.g. 2021-01-01T20:00:00Z).")
    parser.add_argument("--end-time", help="End of the time range, ISO 8601 (events before it are included).")


def add_get_image_log_events_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool

    _common(parser, next_token=True)
    parser.add_argument("--log-stream-name", required=True, help="Name of the log stream.")
    parser.add_argument("--start-from-head", type=to_bool, default=False, metavar="START_FROM_HEAD",
                        help="Earliest events first when true, latest first when false. (Defaults to 'false'.)")
    parser.add_argument("--limit", type=int, help="The most log events returned (10,000 when not given).")
    _time_range(parser)


def run_get_image_log_events(args: argparse.Namespace) -> dict:
    from paracluster import api_images

    return api_images.get_image_log_events(
        image_id=args.image_id, log_stream_name=args.log_stream_name, region=args.region,
        next_token=args.next_token, start_from_head=args.start_from_head, limit=args.limit,
        start_time=args.start_time, end_time=args.end_time, provider_name=args.provider,
    )


def add_export_image_logs_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool

    _common(parser, query=False)
    parser.add_argument("--bucket", required=True, help="Bucket (s3:// name) the export goes through.")
    parser.add_argument("--bucket-prefix", help="Key prefix of the exported data (default: <image id>-logs-<time>).")
    parser.add_argument("--output-file", help="Write the tar.gz archive here instead of uploading it to the bucket.")
    parser.add_argument("--keep-s3-objects", type=to_bool, default=False, metavar="KEEP_S3_OBJECTS",
                        help="Keep the exported log files in the bucket. (Defaults to 'false'.)")
    _time_range(parser)


def run_export_image_logs(args: argparse.Namespace) -> dict:
    from paracluster import api_images

    return api_images.export_image_logs(
        image_id=args.image_id, bucket=args.bucket, bucket_prefix=args.bucket_prefix, output_file=args.output_file,
        keep_s3_objects=args.keep_s3_objects, start_time=args.start_time, end_time=args.end_time,
        region=args.region, provider_name=args.provider,
    )


def add_get_image_stack_events_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser, next_token=True)


def run_get_image_stack_events(args: argparse.Namespace) -> dict:
    from paracluster import api_images

    return api_images.get_image_stack_events(image_id=args.image_id, region=args.region, next_token=args.next_token,
                                             provider_name=args.provider)
