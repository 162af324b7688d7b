"""Local key pairs: `create-key-pair`, `import-key-pair`, `describe-key-pairs`, `delete-key-pair` (EC2's verbs)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _key_pairs():
    from paracluster import api

    return api.services().key_pairs


def add_create_key_pair_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--key-name", required=True, help="Name of the key pair (as in HeadNode/Ssh/KeyName).")


def run_create_key_pair(args: argparse.Namespace) -> dict:
    return _key_pairs().create(args.key_name)


def add_import_key_pair_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--key-name", required=True, help="Name of the key pair (as in HeadNode/Ssh/KeyName).")
    parser.add_argument("--public-key-file", required=True, type=Path, help="An OpenSSH public key file (.pub).")


def run_import_key_pair(args: argparse.Namespace) -> dict:
    from paracluster.errors import BadRequestError

    try:
        text = args.public_key_file.read_text()
    except OSError as err:
        raise BadRequestError(f"failed to read --public-key-file {args.public_key_file}: {err.strerror}") from None
    return _key_pairs().import_public_key(args.key_name, text)


def add_describe_key_pairs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--query", help="JMESPath query to perform on output.")


def run_describe_key_pairs(args: argparse.Namespace) -> dict:
    return {"keyPairs": _key_pairs().describe()}


def add_delete_key_pair_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--key-name", required=True, help="Name of the key pair.")


def run_delete_key_pair(args: argparse.Namespace) -> dict:
    _key_pairs().delete(args.key_name)
    return {"message": f"Deleted key pair '{args.key_name}'."}
