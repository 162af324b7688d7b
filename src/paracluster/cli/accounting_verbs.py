"""`paracluster databases|slurmdbd|token`: local accounting databases, standalone slurmdbds, and slurmrestd tokens."""

from __future__ import annotations

import argparse


def _call(action: str, **request) -> dict:
    from paracluster import api

    return api.services().accounting(action, **request)


def add_databases_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="databases_action", metavar="ACTION", required=True)
    actions.add_parser("list", help="List the databases: Uri, state, clusters using it, data directory.")
    delete = actions.add_parser("delete", help="Stop a database and delete its data (refused while in use).")
    delete.add_argument("uri", help="The Database Uri (HOST or HOST:PORT).")


def run_databases(args: argparse.Namespace) -> dict:
    if args.databases_action == "list":
        return _call("list_databases")
    return _call("delete_database", uri=args.uri)


def add_slurmdbd_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="slurmdbd_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="Run a standalone slurmdbd that clusters name in ExternalSlurmdbd.")
    create.add_argument("--host", required=True, help="Host name clusters give as ExternalSlurmdbd/Host.")
    create.add_argument("--port", type=int, default=6819, help="Port (ExternalSlurmdbd/Port; default 6819).")
    create.add_argument("--database-uri", required=True, help="The database it stores into (HOST[:PORT]).")
    create.add_argument("--database-user", required=True, help="The database user name.")
    create.add_argument("--database-name", help="The database name (default slurm_acct_db).")
    create.add_argument("--password-secret-arn", required=True, help="Secret holding the database password.")
    create.add_argument("--munge-key-secret-arn", required=True,
                        help="Secret holding the base64 munge key (the clusters' MungeKeySecretArn).")
    actions.add_parser("list", help="List the standalone slurmdbds.")
    delete = actions.add_parser("delete", help="Stop and delete a standalone slurmdbd (refused while in use).")
    delete.add_argument("--host", required=True)
    delete.add_argument("--port", type=int, default=6819)


def run_slurmdbd(args: argparse.Namespace) -> dict:
    if args.slurmdbd_action == "list":
        return _call("list_slurmdbds")
    if args.slurmdbd_action == "delete":
        return _call("delete_slurmdbd", host=args.host, port=args.port)
    return _call("create_slurmdbd", host=args.host, port=args.port, database_uri=args.database_uri,
                 database_user=args.database_user, password_secret_arn=args.password_secret_arn,
                 munge_key_secret_arn=args.munge_key_secret_arn, database_name=args.database_name)


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--cluster-name", required=True, help="Name of the cluster.")
    parser.add_argument("--user", help="The Slurm user the token is for (default: the cluster's default user).")
    parser.add_argument("--lifespan", type=int, help="Seconds the token is valid (Slurm's default: 1800).")
    parser.add_argument("--query", help="JMESPath query to perform on output.")


def run_token(args: argparse.Namespace) -> dict:
    from paracluster import api

    return api.slurm_token(cluster_name=args.cluster_name, user=args.user, lifespan=args.lifespan)
