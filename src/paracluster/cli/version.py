"""`paracluster version`: print ParaCluster's own version as {"version": ...}."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """version takes no arguments besides --debug."""


def run(args: argparse.Namespace) -> dict:
    from paracluster import __version__

    return {"version": __version__}
