"""The `paracluster` command: ParallelCluster's verbs and flags, JSON on stdout, exit 1 on any error.

We use argparse rather than click: ParallelCluster's own CLI is argparse, so flags such as
`--suppress-validators ALL type:NameValidator` (several values after one flag) and `--dryrun true` behave the same,
and argparse imports in a third of click's time, which matters for the 0.25 s validation budget.
Each verb's implementation module is imported only when that verb runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from paracluster.cli.output import fail, print_json, run_command

# verb -> (module under paracluster.cli that implements it, one-line help)
COMMANDS = {
    "create-cluster": ("create_cluster", "Create a cluster from a ParallelCluster 3 configuration file."),
    "delete-cluster": ("cluster_verbs", "Delete a cluster and everything it has."),
    "describe-cluster": ("cluster_verbs", "Describe a cluster: status, head node, compute fleet, failures."),
    "list-clusters": ("cluster_verbs", "List the clusters."),
    "describe-cluster-instances": ("cluster_verbs", "List the instances (nodes) of a cluster."),
    "describe-compute-fleet": ("cluster_verbs", "Describe the status of a cluster's compute fleet."),
    "update-compute-fleet": ("cluster_verbs", "Stop or start a cluster's compute fleet."),
    "update-cluster": ("update_cluster", "Update a cluster: plan the changes by their update policies, then apply them."),
    "delete-cluster-instances": ("day2_verbs", "Terminate a cluster's compute instances (static ones are replaced)."),
    "get-cluster-stack-events": ("day2_verbs", "List a cluster's create, update and delete steps as stack events."),
    "list-cluster-log-streams": ("log_verbs", "Retrieve the list of log streams associated with a cluster."),
    "get-cluster-log-events": ("log_verbs", "Retrieve the events associated with a log stream."),
    "export-cluster-logs": ("log_verbs", "Export the logs of a cluster (also one deleted with its logs retained) "
                            "to a tar.gz archive."),
    "log-groups": ("log_verbs", "List and delete the clusters' log groups (also those retained after a cluster)."),
    "diagnose": ("diagnose", "Check every node of a cluster and report in words and JSON; bundle the logs."),
    "ssh": ("ssh", "Open a shell on the head node as the cluster's default user, or run a command there."),
    "create-key-pair": ("key_pairs", "Create a local key pair (the private key stays in the state directory)."),
    "import-key-pair": ("key_pairs", "Import a public key as a local key pair."),
    "describe-key-pairs": ("key_pairs", "List the local key pairs."),
    "delete-key-pair": ("key_pairs", "Delete a local key pair."),
    "secrets": ("secrets", "Store, list and delete local secrets (the values Secrets Manager ARNs in configs name)."),
    "databases": ("accounting_verbs", "List and delete the local accounting databases (MariaDB servers, one per Uri)."),
    "slurmdbd": ("accounting_verbs", "Run, list and delete standalone slurmdbd servers (for Slurm ExternalSlurmdbd)."),
    "token": ("accounting_verbs", "Get a Slurm JWT for a cluster's slurmrestd (scontrol token on the head node)."),
    "s3": ("s3", "Copy files to and from the local provider's buckets (s3:// URLs): cp, ls, rm."),
    "storage": ("storage", "Create, list and delete the local provider's file systems, volumes and snapshots."),
    "build-image": ("build_image", "Build a custom image from an image configuration file."),
    "describe-image": ("image_verbs", "Describe a custom image: its build, or its AMI once built."),
    "list-images": ("image_verbs", "List the custom images of a status (AVAILABLE, PENDING, FAILED)."),
    "delete-image": ("image_verbs", "Delete a custom image (refused while clusters use it, unless --force)."),
    "list-official-images": ("image_verbs", "List the official images (one per OS)."),
    "list-image-log-streams": ("image_verbs", "List the log streams of an image build."),
    "get-image-log-events": ("image_verbs", "Get the events of an image build's log stream."),
    "export-image-logs": ("image_verbs", "Export an image build's logs and stack events to a tar.gz archive."),
    "get-image-stack-events": ("image_verbs", "List an image build's steps as stack events."),
    "imagebuilder": ("imagebuilder", "Create, list, get and delete Image Builder components (AWSTOE documents)."),
    "config-schema": ("config_schema", "Print the JSON Schema of the cluster and image configuration formats."),
    "dcv-connect": ("dcv_connect", "Connect to the head or a login node with NICE DCV (not on the local provider)."),
    "configure": ("configure", "Ask ParallelCluster's questions and write a cluster configuration file."),
    "convert-config": ("convert_config", "Convert a ParallelCluster 2 configuration file (INI) to version 3 (YAML)."),
    "api": ("rest_api", "Serve ParallelCluster's REST API and the dashboard; create, list and revoke API tokens."),
    "version": ("version", "Print the ParaCluster version."),
}


def to_bool(value: str) -> bool:
    """Parse a boolean flag value the way ParallelCluster does (`--dryrun true`)."""
    lowered = value.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"'{value}' is not a boolean; use true or false")


class _Parser(argparse.ArgumentParser):
    """Argument errors as pcluster gives them (usage on stderr, exit 2) but phrased as one sentence."""

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """Build the parser; with `verb`, only that verb's sub-parser gets its arguments (cheaper per process)."""
    parser = _Parser(prog="paracluster", description="ParaCluster: ParallelCluster 3 configs on real Slurm clusters.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if verb is None or verb == name:
            module = importlib.import_module(f"paracluster.cli.{module_name}")
            # A module serving several verbs has add_<verb>_arguments / run_<verb>; one serving one verb has
            # add_arguments / run.
            suffix = name.replace("-", "_")
            getattr(module, f"add_{suffix}_arguments", getattr(module, "add_arguments", None))(sub)
            sub.set_defaults(handler=getattr(module, f"run_{suffix}", getattr(module, "run", None)))
        sub.add_argument("--debug", action="store_true", help="Turn on debug logging.")
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    verb = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(verb if verb in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        raise SystemExit(1)
    code = run_command(args)
    raise SystemExit(code)


__all__ = ["main", "to_bool", "fail", "print_json"]
