"""`paracluster secrets put|list|delete`: the local secret store that Secrets Manager ARNs in configs name."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="secrets_action", metavar="ACTION", required=True)
    put = actions.add_parser("put", help="Store a secret's value (from --value-file, else standard input).")
    put.add_argument("arn", help="arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME")
    put.add_argument("--value-file", type=Path, help="Read the value from this file instead of standard input.")
    actions.add_parser("list", help="List the stored secrets (their ARNs, never their values).")
    delete = actions.add_parser("delete", help="Delete a stored secret.")
    delete.add_argument("arn", help="arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME")


def run(args: argparse.Namespace) -> dict:
    from paracluster import api
    from paracluster.errors import BadRequestError

    secrets = api.services().secrets
    if args.secrets_action == "list":
        return {"secrets": [{"arn": arn} for arn in secrets.list_arns()]}
    if args.secrets_action == "delete":
        secrets.delete(args.arn)
        return {"message": f"Deleted secret {args.arn}."}
    secrets.check_arn(args.arn)
    if args.value_file is not None:
        try:
            value = args.value_file.read_bytes()
        except OSError as err:
            raise BadRequestError(f"failed to read --value-file {args.value_file}: {err.strerror}") from None
    else:
        if sys.stdin.isatty():
            sys.stderr.write("Secret value (end with Ctrl-D): ")
            sys.stderr.flush()
        value = sys.stdin.buffer.read()
    secrets.put(args.arn, value)
    return {"message": f"Stored secret {args.arn}."}
