"""Flags shared by the verbs that validate a configuration (create-cluster, update-cluster, build-image)."""

from __future__ import annotations

import argparse
import re

_SUPPRESSOR = re.compile(r"^(ALL|type:[A-Za-z0-9]+)$")


def suppressor(value: str) -> str:
    if not _SUPPRESSOR.match(value):
        raise argparse.ArgumentTypeError(f"'{value}' is not a validator suppressor; use ALL or type:ValidatorName")
    return value


def add_validation_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool

    parser.add_argument("-r", "--region", help="Region the operation corresponds to.")
    parser.add_argument(
        "--suppress-validators",
        nargs="+",
        type=suppressor,
        default=[],
        metavar="SUPPRESS_VALIDATORS",
        help="Identifies one or more config validators to suppress. Format: (ALL|type:[A-Za-z0-9]+)",
    )
    parser.add_argument(
        "--validation-failure-level",
        choices=("INFO", "WARNING", "ERROR"),
        default="ERROR",
        help="Min validation level that will cause the request to fail. (Defaults to 'ERROR'.)",
    )
    parser.add_argument(
        "--dryrun",
        type=to_bool,
        default=False,
        metavar="DRYRUN",
        help="Only perform request validation without creating any resource. (Defaults to 'false'.)",
    )
    parser.add_argument("--query", help="JMESPath query to perform on output.")


def cluster_request(args: argparse.Namespace) -> dict:
    """The api keyword arguments that create-cluster and update-cluster share, from their flags."""
    from paracluster.config.yamlfile import read_config_text

    return dict(
        cluster_name=args.cluster_name,
        config_text=read_config_text(args.cluster_configuration),
        source=args.cluster_configuration,
        region=args.region,
        suppress_validators=tuple(args.suppress_validators),
        validation_failure_level=args.validation_failure_level,
        dryrun=args.dryrun,
        provider_name=args.provider,
    )
