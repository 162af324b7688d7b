"""`paracluster convert-config` and `paracluster3-config-converter`: ParallelCluster 2 INI configs to v3 YAML."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

# IAM role names in v2 files become ARNs, which need the AWS account. The local provider has none, so converted
# ARNs get this placeholder and a warning says to replace it.
PLACEHOLDER_ACCOUNT_ID = "000000000000"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config-file", required=True, help="The ParallelCluster 2 configuration file (INI).")
    parser.add_argument(
        "-t",
        "--cluster-template",
        help="The [cluster NAME] section to convert; by default [global] cluster_template, else [cluster default].",
    )
    parser.add_argument("-o", "--output-file", help="Where to write the v3 YAML; by default standard output.")
    parser.add_argument(
        "--force-convert",
        action="store_true",
        help="Also convert settings that become DevSettings, which ParallelCluster 3 does not officially support.",
    )


@functools.cache
def _account_id() -> str:
    """The AWS account that IAM role ARNs are built for.

    One small function on purpose: the provider layer answers this (the aws provider from STS); today no provider
    here can, so the local answer is a placeholder.
    """
    _say("Warning", f"IAM role names became ARNs with the placeholder account {PLACEHOLDER_ACCOUNT_ID}; replace it "
                    "with your AWS account id before creating the cluster on AWS")
    return PLACEHOLDER_ACCOUNT_ID


def _region() -> str | None:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")


def _say(level: str, text: str) -> None:
    # Notes and warnings go to standard error, so that standard output holds only the YAML.
    sys.stderr.write(f"{level}: {text}\n")


def run(args: argparse.Namespace) -> dict | None:
    from paracluster.config.yamlfile import write_new_config_file
    from paracluster.convert import convert_v2, to_yaml
    from paracluster.errors import BadRequestError, ConfigFileError

    path = Path(args.config_file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ConfigFileError(f"failed to read --config-file {path}: {reason}") from None
    output = Path(args.output_file) if args.output_file else None
    if output is not None and output.exists():
        raise BadRequestError(f"--output-file {output} already exists; choose another file or remove it")
    conversion = convert_v2(
        text,
        source=str(path),
        cluster_template=args.cluster_template,
        force=args.force_convert,
        account_id=_account_id,
        region=_region,
    )
    for message in conversion.messages:
        _say(message.level, message.text)
    document = to_yaml(conversion)
    if output is None:
        sys.stdout.write(document)
        return None
    write_new_config_file(output, document, "--output-file")
    return {"message": f"Configuration file written to {output}"}


def main(argv: list[str] | None = None) -> None:
    """The `paracluster3-config-converter` command: plain text answers, `ERROR: ...` and exit 1 on failure."""
    from paracluster.errors import ClusterError

    parser = argparse.ArgumentParser(
        prog="paracluster3-config-converter",
        description="Convert a ParallelCluster 2 configuration file (INI) to a ParallelCluster 3 one (YAML).",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        body = run(args)
    except ClusterError as err:
        sys.stderr.write(f"ERROR: {err}\n")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(1) from None
    if body:
        sys.stdout.write(body["message"] + "\n")
