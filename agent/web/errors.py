"""Every error answer has the contract's shape: `{"error": {"code": ..., "message": ...}}`."""

from __future__ import annotations

import sqlite3

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_body",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from a route to answer with a specific status, code and human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
            problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        return error_response(422, "invalid_body", "; ".join(problems) or "invalid request")

    @app.exception_handler(sqlite3.Error)
    async def _storage(_: Request, exc: sqlite3.Error) -> JSONResponse:
        # Disk full or read-only: nothing was changed (the transaction rolled back); say so
        # plainly rather than answer a bare 500.
        return error_response(
            503,
            "storage_unavailable",
            "The store's device cannot save anything right now; nothing was changed. "
            "Please tell a member of staff.",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail))
