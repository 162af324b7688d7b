"""How the REST server answers errors: ParallelCluster's status codes and JSON bodies, never a traceback."""

from __future__ import annotations

from starlette.responses import JSONResponse

from paracluster.errors import (
    BadRequestError,
    ClusterError,
    ConfigError,
    ConfigValidationError,
    ConflictError,
    DryRunSucceeded,
    NotAvailableError,
    NotFoundError,
    UpdateRefused,
)

# ParaCluster's error classes and ParallelCluster's status for them, most specific first. A conflict is 409 only
# where ParallelCluster's operation has a 409 (a cluster name in use); ParallelCluster reports other conflicts (a
# fleet that cannot stop now) as 400. A dry run that would succeed is ParallelCluster's DryrunOperationException.
STATUSES: tuple[tuple[type[ClusterError], int | None], ...] = (
    (ConfigValidationError, 400),
    (UpdateRefused, 400),
    (DryRunSucceeded, 412),
    (NotFoundError, 404),
    (ConflictError, None),
    (NotAvailableError, 501),
    (BadRequestError, 400),
    (ConfigError, 400),
)


def status_of(error: ClusterError, conflict_status: int) -> int:
    """The HTTP status of a ParaCluster error; other ClusterErrors are ParallelCluster's InternalServiceException."""
    for kind, status in STATUSES:
        if isinstance(error, kind):
            return conflict_status if status is None else status
    return 500


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error answer: ParallelCluster's {"message": ...} body."""
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def error_response(error: ClusterError, conflict_status: int = 409) -> JSONResponse:
    return JSONResponse(error.body(), status_code=status_of(error, conflict_status))
