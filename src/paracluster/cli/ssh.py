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
    command = api.ssh_command(cluster_name=args.cluster_name, extra_args=extra, provider_name=args.provider,
                              login_pool=args.login_pool)
    if args.dryrun:
        return {"command": shlex.join(command)}
    os.execvp(command[0], command)  # ssh takes over the terminal and its exit code becomes ours
    return None
