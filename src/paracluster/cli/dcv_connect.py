"""`paracluster dcv-connect`: pcluster's flags; the local provider answers that it has no DCV, and why."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli.cluster_verbs import add_provider_argument

    parser.add_argument("-r", "--region", help="Region the operation corresponds to.")
    parser.add_argument("-n", "--cluster-name", required=True, help="Name of the cluster to connect to.")
    parser.add_argument("--key-path", help="Path of the SSH private key to connect with.")
    parser.add_argument("--show-url", action="store_true", help="Print the DCV session URL and exit.")
    parser.add_argument("--login-node-ip", help="IP address of the login node to connect to.")
    add_provider_argument(parser)


def run(args: argparse.Namespace) -> dict:
    from paracluster.cli.output import fail
    from paracluster.errors import NotAvailableError
    from paracluster.settings import load_settings

    provider = load_settings({"provider": args.provider}).provider
    if provider != "local":
        raise NotAvailableError(f"dcv-connect on the {provider} provider is not available in this version yet")
    raise fail(
        f"dcv-connect cannot open a desktop on cluster '{args.cluster_name}': local nodes are Linux namespaces on "
        f"this machine with no display or DCV server, so reach the head node with `paracluster ssh -n "
        f"{args.cluster_name}` instead."
    )
