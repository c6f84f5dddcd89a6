"""What the API answers when the database or the input, not the code, is the problem.

A lock or statement timeout, or no pooled connection free in time, is a 503 with
`Retry-After`: the same request succeeds later, and the log gets one line without SQL or
tenant ids. A domain `UserInputError` that a route let through is a 422 with its message.
Anything else stays a 500: a bug.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from wiring_pipeline.domain.core.errors import UserInputError

logger = logging.getLogger("wiring_pipeline.api")

#: lock_not_available, query_canceled (statement_timeout), serialization, deadlock.
RETRYABLE_SQLSTATES = frozenset({"55P03", "57014", "40001", "40P01"})
BUSY = {"detail": "the database is busy: retry the request"}
RETRY_AFTER_SECONDS = 1


def _busy(request: Request, reason: str) -> JSONResponse:
    logger.warning("%s %s answered 503: %s", request.method, request.url.path, reason)
    return JSONResponse(BUSY, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


async def _operational(request: Request, error: OperationalError) -> JSONResponse:
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate not in RETRYABLE_SQLSTATES:
        raise error
    return _busy(request, f"{type(error.orig).__name__} (SQLSTATE {sqlstate})")


async def _pool_timeout(request: Request, error: PoolTimeoutError) -> JSONResponse:
    return _busy(request, "no database connection free in time")


async def _user_input(request: Request, error: UserInputError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(OperationalError, _operational)
    app.add_exception_handler(PoolTimeoutError, _pool_timeout)
    app.add_exception_handler(UserInputError, _user_input)
