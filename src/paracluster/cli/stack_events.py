"""`paracluster get-cluster-stack-events -n NAME`: the events of a cluster's CloudFormation stack (aws provider)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli.cluster_verbs import add_provider_argument

    parser.add_argument("-n", "--cluster-name", required=True, help="Name of the cluster.")
    parser.add_argument("-r", "--region", help="Region the operation corresponds to.")
    add_provider_argument(parser)
    parser.add_argument("--next-token", help="Token of the next page (all events fit in one answer).")
    parser.add_argument("--query", help="JMESPath query to perform on output.")


def run(args: argparse.Namespace) -> dict:
    from paracluster import api
    from paracluster.errors import NotAvailableError

    chosen = api.provider(args.provider)
    events = getattr(chosen, "stack_events", None)
    if events is None:
        raise NotAvailableError(f"the {chosen.name} provider has no CloudFormation stacks; "
                                "get-cluster-stack-events works with --provider aws")
    return {"events": events(args.cluster_name, api.default_region(args.region))}
