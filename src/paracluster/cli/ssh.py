"""`paracluster ssh -n NAME [--login-pool POOL] [-- COMMAND]`: a shell or command on the head (or a login) node."""

from __future__ import annotations

import argparse
import os
import shlex


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from paracluster.cli import to_bool
    from paracluster.cli.cluster_verbs import add_provider_argument

    parser.add_argument("-n", "--cluster-name", required=True, help="Name of the cluster.")
    parser.add_argument("-r", "--region", help="Region the operation corresponds to.")
    add_provider_argument(parser)
    parser.add_argument("--dryrun", type=to_bool, default=False, metavar="DRYRUN",
                        help="Print the ssh command instead of running it. (Defaults to 'false'.)")
    parser.add_argument("--login-pool", metavar="POOL",
                        help="Log in to a node of this login pool, through its load balancer (ParaCluster).")
    parser.add_argument("ssh_args", nargs=argparse.REMAINDER,
                        help="Arguments for ssh; after `--`, a command to run on the head node.")


def run(args: argparse.Namespace) -> dict | None:
    from paracluster import api

    extra = list(args.ssh_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    target = api.ssh_target(cluster_name=args.cluster_name, login_pool=args.login_pool, region=args.region,
                            provider_name=args.provider)
    command = ssh_command(target, extra)
    if args.dryrun:
        return {"command": shlex.join(command)}
    os.execvp(command[0], command)  # ssh takes over the terminal and its exit code becomes ours
    return None


def ssh_command(target, extra_args: list[str]) -> list[str]:
    """The ssh command line that opens a shell (or runs extra_args) on the target as the cluster's default user."""
    command = ["ssh", "-o", "LogLevel=ERROR"]
    if target.known_hosts:
        command += ["-o", f"UserKnownHostsFile={target.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
    if target.port:
        command += ["-p", str(target.port)]
    if target.identity_file:
        command += ["-i", target.identity_file, "-o", "IdentitiesOnly=yes"]
    return command + [f"{target.user}@{target.address}"] + list(extra_args)
