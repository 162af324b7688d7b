"""`paracluster build-image`: validate an image configuration and build the image (or only validate)."""

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
        default=False,
        metavar="ROLLBACK_ON_FAILURE",
        help="When set, a failed build is rolled back. (Defaults to 'false'.)",
    )
    parser.add_argument("-i", "--image-id", required=True, help="Id of the image that will be built.")
    parser.add_argument("-c", "--image-configuration", required=True, help="Image configuration file (YAML).")
    add_provider_argument(parser)
    parser.add_argument("--wait", action="store_true", help="Wait for the build to end, showing progress on stderr; "
                        "print describe-image's answer.")


def run(args: argparse.Namespace) -> dict:
    from paracluster import api_images
    from paracluster.cli.output import debug_log
    from paracluster.config.yamlfile import read_config_text

    debug_log(args, "build-image %s from %s (dryrun=%s)", args.image_id, args.image_configuration, args.dryrun)
    answer = api_images.build_image(
        image_id=args.image_id,
        config_text=read_config_text(args.image_configuration),
        source=args.image_configuration,
        region=args.region,
        suppress_validators=tuple(args.suppress_validators),
        validation_failure_level=args.validation_failure_level,
        dryrun=args.dryrun,
        rollback_on_failure=args.rollback_on_failure,
        provider_name=args.provider,
    )
    return wait_for_build(args, answer["image"]["region"]) if args.wait else answer


def wait_for_build(args: argparse.Namespace, region: str) -> dict:
    """Poll describe-image until the build ends; its answer, or ClusterOperationFailed when the build failed."""
    import time

    from paracluster import api_images
    from paracluster.cli.waiting import POLL_SECONDS, progress_printer
    from paracluster.errors import ClusterOperationFailed

    progress, started, last = progress_printer(), time.monotonic(), None
    while True:
        image = api_images.describe_image(image_id=args.image_id, region=region, provider_name=args.provider)
        status = image["imageBuildStatus"]
        step = image.get("progress") or image.get("imagebuilderImageStatus") or status
        if step != last:
            progress(f"{args.image_id}: {step} ({time.monotonic() - started:.1f}s)")
            last = step
        if status != "BUILD_IN_PROGRESS":
            break
        time.sleep(POLL_SECONDS)
    if status != "BUILD_COMPLETE":
        reason = image.get("imagebuilderImageStatusReason") or image.get("cloudformationStackStatusReason") or status
        raise ClusterOperationFailed(f"failed to build image '{args.image_id}': {reason}", image)
    return image
