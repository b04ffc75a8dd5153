"""Domain errors and their single mapping to the HTTP error shape of the design."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from runtime.db import is_sqlite_statement_fault

log = structlog.get_logger("closeloop.errors")

# How long a client should wait before trying again when the database cannot be reached.
DB_RETRY_AFTER = 5


class DomainError(Exception):
    """A refusal with a status, a stable code, a message and details."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else []
        if code:
            self.code = code


class BadRequest(DomainError):
    status, code = 400, "bad_request"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class PayloadTooLarge(DomainError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported_media_type"


class Unavailable(DomainError):
    status, code = 503, "service_unavailable"


class Invalid(DomainError):
    status, code = 422, "invalid"


def field_error(field: str, message: str) -> Invalid:
    """A 422 naming one field and why it was refused."""
    return Invalid(f"{field}: {message}", details=[{"field": field, "message": message}])


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The error shape of the design."""
    return {"error": {"code": code, "message": message, "details": details if details is not None else []}}


class ErrorDetail(BaseModel):
    """One problem of a refused request: which field (or ledger row and column) and why."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": {"field": "cursor",
                                                                           "message": "not a cursor"}})
    message: str = Field(description="为什么被拒绝 (why it was refused)")
    field: str | None = Field(default=None, description="出错的字段 (the field, dotted for nested ones)")
    row: int | None = Field(default=None, description="台账导入时出错的行 (ledger import: the row)")
    column: str | None = Field(default=None, description="台账导入时出错的列 (ledger import: the column)")


class ErrorBody(BaseModel):
    """The inside of the error shape: a stable code, a message and the details."""

    code: str = Field(description="稳定的错误代码 (stable code), e.g. not_found, conflict, invalid")
    message: str = Field(description="说明 (what went wrong)")
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorOut(BaseModel):
    """The design's error shape: `{"error": {"code", "message", "details"}}`."""

    error: ErrorBody


ERROR_DESCRIPTIONS = {
    400: "请求有误 (bad request)",
    401: "未登录或令牌无效 (missing, expired or invalid bearer token)",
    403: "无权执行 (the caller's role or org may not do this)",
    404: "不存在或无权查看 (not found, or not visible to the caller)",
    409: "与当前状态冲突 (conflicts with the current state; nothing changed)",
    413: "内容过大 (payload too large)",
    415: "不支持的内容类型 (unsupported media type)",
    422: "输入无效,details 指明字段 (invalid input; details name the fields)",
    503: "暂时不可用，请按 Retry-After 稍后重试 (not ready or the database is unreachable; retry after the "
         "seconds in Retry-After)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that may refuse with these statuses, each in the design's error shape."""
    return {status: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[status]} for status in statuses}


# What a database that is down, restarting, unreachable or locked raises: the request may succeed later.
_DRIVERS = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")


def _raised_by_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DRIVERS:
            return True
        tb = tb.tb_next
    return False


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc`, the driver's error SQLAlchemy wrapped (`orig`) and what each was raised from, in that order."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) and orig is not current else current.__cause__
    return chain


def is_database_outage(exc: BaseException) -> bool:
    """Whether an error means the database cannot serve now (connection refused or lost, pool exhausted, locked,
    restarting), rather than a fault of the request or the code (SQLite's "no such table" is an OperationalError
    too: a fault). The driver's error is looked for under SQLAlchemy's wrapper: asyncpg's "the database system is not
    yet accepting connections" (a server recovering after a crash) comes wrapped in a plain DBAPIError."""
    if is_sqlite_statement_fault(exc):
        return False
    import asyncpg  # type: ignore[import-untyped]

    for current in _causes(exc):
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
            return True
        if isinstance(current, asyncpg.PostgresConnectionError | asyncpg.exceptions.CannotConnectNowError
                      | asyncpg.exceptions.AdminShutdownError | asyncpg.exceptions.ConnectionDoesNotExistError):
            return True
    # a refused or lost connection of the driver (asyncpg raises the socket's own errors when it connects)
    return isinstance(exc, ConnectionError | TimeoutError) and _raised_by_driver(exc)


def database_unavailable(request: Request, exc: BaseException) -> JSONResponse:
    """The answer to a request that met a database outage: 503 in the error shape with Retry-After, counted in
    the service's metrics and logged as one structured line."""
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.database_unavailable.inc()
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.error("database_unavailable", method=request.method, path=request.url.path, route=route,
              error_type=type(exc).__name__, error=str(exc).splitlines()[0][:300] if str(exc) else "")
    return JSONResponse(
        error_body("database_unavailable",
                   f"数据库暂时无法访问，请 {DB_RETRY_AFTER} 秒后重试；若持续出现请联系运维 / the database cannot be "
                   f"reached right now; retry in {DB_RETRY_AFTER} s, and tell the operators if it lasts"),
        status_code=503, headers={"Retry-After": str(DB_RETRY_AFTER)})


def install_error_handlers(app: FastAPI) -> None:
    """Map domain, validation and HTTP errors to the design's error shape, once."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 503:
            headers = {"Retry-After": "5"}
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers)

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if not is_database_outage(exc):
            raise exc
        return database_unavailable(request, exc)

    for kind in (sa_exc.DBAPIError, sa_exc.TimeoutError, ConnectionError, TimeoutError):
        app.add_exception_handler(kind, _database)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
            details.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
        fields = ", ".join(d["field"] for d in details)
        return JSONResponse(error_body("invalid", f"invalid input: {fields}", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
