"""`paracluster build-image`: validate an image configuration and build the image (or only validate)."""

from __future__ import annotations

import argparse

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


def run(args: argparse.Namespace) -> dict:
    from paracluster import api
    from paracluster.cli.output import debug_log
    from paracluster.config.yamlfile import read_config_text

    debug_log(args, "build-image %s from %s (dryrun=%s)", args.image_id, args.image_configuration, args.dryrun)
    return api.build_image(
        image_id=args.image_id,
        config_text=read_config_text(args.image_configuration),
        source=args.image_configuration,
        region=args.region,
        suppress_validators=tuple(args.suppress_validators),
        validation_failure_level=args.validation_failure_level,
        dryrun=args.dryrun,
    )
