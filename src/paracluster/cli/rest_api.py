"""`paracluster api serve|token`: ParallelCluster's REST API and the dashboard, and the tokens that open them."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="api_action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="Serve ParallelCluster's REST API (/v3) and the dashboard (/ui).")
    serve.add_argument("--host", default="127.0.0.1", help="Address to listen on. (Defaults to 127.0.0.1.)")
    serve.add_argument("--port", type=int, default=8080, help="Port to listen on; 0 picks a free one. "
                       "(Defaults to 8080.)")
    serve.add_argument("--certfile", help="PEM certificate: serve HTTPS (with --keyfile).")
    serve.add_argument("--keyfile", help="PEM private key of --certfile.")
    serve.add_argument("--max-request-bytes", type=int, default=1024 * 1024, metavar="N",
                       help="Largest request body accepted. (Defaults to 1 MiB.)")
    token = actions.add_parser("token", help="Create, list and revoke API tokens.")
    token_actions = token.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    create = token_actions.add_parser("create", help="Create a token; it is shown once.")
    create.add_argument("--read-only", action="store_true", help="The token may only read (GET).")
    create.add_argument("--name", help="A name to recognize the token by in `token list`.")
    token_actions.add_parser("list", help="List the tokens (never the tokens themselves).")
    revoke = token_actions.add_parser("revoke", help="Revoke a token at once.")
    revoke.add_argument("token_id", metavar="ID", help="The token's id (tok-...).")


def run(args: argparse.Namespace) -> dict | None:
    from paracluster.errors import BadRequestError
    from paracluster.rest.auth import TokenStore
    from paracluster.settings import load_settings

    state_dir = load_settings().state_path
    if args.api_action == "serve":
        from paracluster.rest.server import serve

        if not 0 <= args.port <= 65535:
            raise BadRequestError(f"--port {args.port} is out of range; use 0 to 65535")
        if args.max_request_bytes < 1:
            raise BadRequestError(f"--max-request-bytes {args.max_request_bytes} is too small; use at least 1")
        serve(state_dir, args.host, args.port, args.certfile, args.keyfile, args.max_request_bytes)
        return None
    tokens = TokenStore(state_dir)
    if args.token_action == "create":
        return tokens.create(args.name, args.read_only)
    if args.token_action == "list":
        return {"tokens": tokens.list()}
    return tokens.revoke(args.token_id)
