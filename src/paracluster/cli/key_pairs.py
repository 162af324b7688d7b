"""Local key pairs: `create-key-pair`, `import-key-pair`, `describe-key-pairs`, `delete-key-pair` (EC2's verbs)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _settings():
    from paracluster.settings import load_settings

    return load_settings()


def add_create_key_pair_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--key-name", required=True, help="Name of the key pair (as in HeadNode/Ssh/KeyName).")


def run_create_key_pair(args: argparse.Namespace) -> dict:
    from paracluster.providers.local import keypairs

    return keypairs.create(_settings().state_path, args.key_name).describe()


def add_import_key_pair_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--key-name", required=True, help="Name of the key pair (as in HeadNode/Ssh/KeyName).")
    parser.add_argument("--public-key-file", required=True, type=Path, help="An OpenSSH public key file (.pub).")


def run_import_key_pair(args: argparse.Namespace) -> dict:
    from paracluster.errors import BadRequestError
    from paracluster.providers.local import keypairs

    try:
        text = args.public_key_file.read_text()
    except OSError as err:
        raise BadRequestError(f"failed to read --public-key-file {args.public_key_file}: {err.strerror}") from None
    return keypairs.import_public_key(_settings().state_path, args.key_name, text).describe()


def add_describe_key_pairs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--query", help="JMESPath query to perform on output.")


def run_describe_key_pairs(args: argparse.Namespace) -> dict:
    from paracluster.providers.local import keypairs

    return {"keyPairs": [pair.describe() for pair in keypairs.list_pairs(_settings().state_path)]}


def add_delete_key_pair_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", "--key-name", required=True, help="Name of the key pair.")


def run_delete_key_pair(args: argparse.Namespace) -> dict:
    from paracluster.providers.local import keypairs

    keypairs.delete(_settings().state_path, args.key_name)
    return {"message": f"Deleted key pair '{args.key_name}'."}
