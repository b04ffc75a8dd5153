"""Domain errors and their single mapping to the HTTP error shape of the design."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


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


def install_error_handlers(app: FastAPI) -> None:
    """Map domain, validation and HTTP errors to the design's error shape, once."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 503:
            headers = {"Retry-After": "5"}
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers)

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
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
