"""`paracluster config-schema`: print the JSON Schema of the cluster or image config format, for editors."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        dest="config_format",
        choices=("all", "cluster", "image"),
        default="all",
        help="Which format: the cluster config, the image config, or both under one document (default).",
    )
    parser.add_argument("--query", help="JMESPath query to perform on output.")


def run(args: argparse.Namespace) -> dict:
    from paracluster.config.jsonschema import cluster_json_schema, combined_json_schema, image_json_schema

    return {"cluster": cluster_json_schema, "image": image_json_schema, "all": combined_json_schema}[
        args.config_format
    ]()
