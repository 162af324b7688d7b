"""`paracluster api serve`: the REST server on uvicorn, on a socket bound here so that problems are one sentence."""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import sys
from pathlib import Path

from paracluster.errors import BadRequestError
from paracluster.rest.app import create_app
from paracluster.rest.auth import TokenStore


def check_tls(certfile: str | None, keyfile: str | None) -> None:
    """Both or neither, and loadable: uvicorn would otherwise stop with a traceback."""
    if bool(certfile) != bool(keyfile):
        raise BadRequestError("--certfile and --keyfile go together; give both (TLS) or neither (plain HTTP)")
    if certfile:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as err:
            raise BadRequestError(f"failed to load --certfile {certfile} with --keyfile {keyfile}: {err}; give a "
                                  "PEM certificate and its private key") from None


def bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET  # a host name
    # IPPROTO_TCP explicitly: asyncio turns Nagle's algorithm off only on sockets that say they are TCP, and with it on,
    # every answer written in two parts (head, body) waits 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise BadRequestError(f"failed to listen on {host}:{port}: {err.strerror}; choose another --port or "
                              "--host") from None
    # Listening at once: a client told the address (the line serve prints) is queued until uvicorn accepts, rather
    # than refused while uvicorn starts.
    sock.listen(2048)
    return sock


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(state_dir: Path, host: str, port: int, certfile: str | None, keyfile: str | None,
          max_body_bytes: int) -> None:
    """Serve until interrupted (SIGINT or SIGTERM end it gracefully)."""
    import uvicorn

    check_tls(certfile, keyfile)
    sock = bind(host, port)
    scheme = "https" if certfile else "http"
    bound_port = sock.getsockname()[1]
    if not certfile and not is_loopback(host):
        sys.stderr.write(f"warning: serving plain HTTP on {host}; tokens cross the network readable by anyone on "
                         "the way: give --certfile and --keyfile\n")
    sys.stderr.write(f"ParaCluster API on {scheme}://{host}:{bound_port}/v3 and dashboard on "
                     f"{scheme}://{host}:{bound_port}/ui/ (tokens: paracluster api token create)\n")
    sys.stderr.flush()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(
        create_app(TokenStore(state_dir), max_body_bytes), ssl_certfile=certfile, ssl_keyfile=keyfile,
        log_config=None, server_header=False, proxy_headers=False, timeout_keep_alive=5, lifespan="off",
    )
    uvicorn.Server(config).run(sockets=[sock])
