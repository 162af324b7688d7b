"""`paracluster diagnose -n NAME [--output-file F]`: the checks in words on stderr, in JSON on stdout; exit 1 when
one failed."""

from __future__ import annotations

import argparse
import os
import sys

from paracluster.cli.cluster_verbs import add_common_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--output-file", type=os.path.realpath,
                        help="Where to write the bundle (tar.gz: the report, each node's answers, the cluster's "
                             "logs); default <cluster>-diagnosis-<time>.tar.gz in the current directory.")


def run(args: argparse.Namespace) -> dict:
    from paracluster import api
    from paracluster.cli.output import CommandFailed
    from paracluster.diagnose.report import in_words

    body = api.diagnose(cluster_name=args.cluster_name, output_file=args.output_file, region=args.region,
                        provider_name=args.provider)
    sys.stderr.write(in_words(body))
    if body["result"] != "PASSED":
        raise CommandFailed(body)
    return body
