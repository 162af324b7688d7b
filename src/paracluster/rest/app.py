"""The REST server's application: ParallelCluster's /v3 API, ParaCluster's /paracluster/v1, the dashboard at /ui.

Every route comes from the operation table (`operations.py`) and calls `api` in a worker thread, as the CLI does.
`Guard` wraps the whole application: no request reaches an operation without a valid token, read-only tokens only
read, request bodies have a size limit, and every refusal is a JSON error. The dashboard's files are static and
hold no data, so they are served without a token; everything the page shows comes through the API with one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from paracluster.errors import ClusterError
from paracluster.rest import parameters
from paracluster.rest.auth import TokenStore
from paracluster.rest.errors import error_response, json_error
from paracluster.rest.operations import OPERATIONS, PARACLUSTER_OPERATIONS, Operation

LOG = logging.getLogger("paracluster.rest")
UI = Path(__file__).parent / "ui"
DEFAULT_MAX_BODY = 1024 * 1024  # ParallelCluster's largest example config is 30 KiB
MAX_ACTIVE = 200  # requests served at once; more are refused with 503 (uvicorn's own refusal would be plain text)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Headers on every answer: no sniffing, no framing, no referrer; the page loads scripts and styles only from here.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
]
NO_STORE = [(b"cache-control", b"no-store")]  # API answers are never cached; the dashboard's files may be


class BodyTooLarge(Exception):
    """A request body (sent without Content-Length, or longer than it said) passed the size limit."""


async def _serve(operation_id: str, operation: Operation, request: Request):
    if operation.call is None:
        return json_error(501, f"ParaCluster does not offer {operation_id} ({operation.method} {operation.path}) "
                               "yet; see the README's REST API section for the operations it has")
    try:
        params = parameters.parse(operation, request.path_params, request.query_params.multi_items())
        if operation.body is not None:
            params.body = parameters.parse_body(operation.body, await request.body())
        answer = await run_in_threadpool(operation.call, params)
    except ClusterError as err:
        return error_response(err, operation.conflict_status)
    except BodyTooLarge:
        raise
    except Exception as err:  # noqa: BLE001 - the client gets one sentence; the log gets the traceback
        LOG.exception("%s failed", operation_id)
        return json_error(500, f"failed to {operation_id.replace('_', ' ')}: {type(err).__name__}: {err}; "
                               "see the API server's log")
    return JSONResponse(answer, status_code=operation.status)


def _path_endpoint(by_method: dict[str, tuple[str, Operation]]):
    """One route per path, so that a method the path lacks gets 405 with every method it has in `Allow`."""

    async def endpoint(request: Request):
        operation_id, operation = by_method[request.method]
        return await _serve(operation_id, operation, request)

    return endpoint


async def _whoami(request: Request):
    """The token this request carries (the dashboard hides actions a read-only token cannot take)."""
    return JSONResponse(request.state.token.describe())


async def _http_error(request: Request, exc: StarletteHTTPException):
    messages = {404: f"there is no {request.url.path}; see the README's REST API section for the paths",
                405: f"{request.method} is not allowed on {request.url.path}"}
    return json_error(exc.status_code, messages.get(exc.status_code, str(exc.detail)), getattr(exc, "headers", None))


async def _too_large(request: Request, exc: BodyTooLarge):
    return json_error(413, str(exc))


def create_app(tokens: TokenStore, max_body_bytes: int = DEFAULT_MAX_BODY, max_active: int = MAX_ACTIVE):
    """The ASGI application: the routes of the operation table and the dashboard, behind the guard."""
    app = FastAPI(title="ParaCluster", docs_url=None, redoc_url=None, openapi_url=None)
    paths: dict[str, dict[str, tuple[str, Operation]]] = {}
    for operation_id, operation in {**OPERATIONS, **PARACLUSTER_OPERATIONS}.items():
        paths.setdefault(operation.path, {})[operation.method] = (operation_id, operation)
    for path, by_method in paths.items():
        # Image Builder's log streams are named `<version>/<build>`: the name may hold a (percent-encoded) slash.
        route = path.replace("{logStreamName}", "{logStreamName:path}")
        app.add_api_route(route, _path_endpoint(by_method), methods=list(by_method),
                          name=" ".join(operation_id for operation_id, _ in by_method.values()))
    app.add_api_route("/paracluster/v1/token", _whoami, methods=["GET"], name="describe_token")
    app.add_api_route("/", lambda: RedirectResponse("/ui/"), methods=["GET"], include_in_schema=False)
    app.mount("/ui", StaticFiles(directory=UI, html=True), name="ui")
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(BodyTooLarge, _too_large)
    return Guard(app, tokens, max_body_bytes, max_active)


class Guard:
    """ASGI middleware: tokens, read-only tokens, body size, load, security headers; refusals are JSON errors."""

    def __init__(self, app, tokens: TokenStore, max_body_bytes: int, max_active: int = MAX_ACTIVE):
        self.app = app
        self.tokens = tokens
        self.max_body = max_body_bytes
        self.max_active = max_active
        self.active = 0  # requests under way (one event loop: no lock needed)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        extra = SECURITY_HEADERS + ([] if self._public(scope["path"]) else NO_STORE)

        async def send_secured(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        refusal = self._refusal(scope)
        if refusal is None and self.active >= self.max_active:
            refusal = json_error(503, f"the server is serving {self.active} requests already; retry in a moment",
                                 {"Retry-After": "1"})
        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        self.active += 1
        try:
            await self.app(scope, self._limited(receive), send_secured)
        finally:
            self.active -= 1

    @staticmethod
    def _public(path: str) -> bool:
        return path in ("/", "/ui") or path.startswith("/ui/")

    def _refusal(self, scope):
        if self._public(scope["path"]):
            return None
        headers = dict(scope["headers"])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return json_error(401, "this API needs a token: send the header `Authorization: Bearer <token>`, with a "
                                   "token from `paracluster api token create`", {"WWW-Authenticate": "Bearer"})
        entry = self.tokens.check(token.strip())
        if entry is None:
            return json_error(401, "the API token is not valid (mistyped or revoked); create one with "
                                   "`paracluster api token create`", {"WWW-Authenticate": "Bearer"})
        if entry.read_only and scope["method"] not in SAFE_METHODS:
            return json_error(403, f"API token {entry.id} may only read; send {scope['method']} requests with a "
                                   "token created without --read-only")
        length = headers.get(b"content-length", b"0")
        if not length.isdigit():
            return json_error(400, "the Content-Length header is not a number")
        if int(length) > self.max_body:
            return json_error(413, f"the request body has {int(length)} bytes; this server accepts at most "
                                   f"{self.max_body} (paracluster api serve --max-request-bytes)")
        scope.setdefault("state", {})["token"] = entry
        return None

    def _limited(self, receive):
        """`receive` that stops a body growing past the limit (chunked, or longer than its Content-Length)."""
        seen = 0
        limit = self.max_body

        async def receive_limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"the request body has more than {limit} bytes; this server accepts at most "
                                       f"{limit} (paracluster api serve --max-request-bytes)")
            return message

        return receive_limited
