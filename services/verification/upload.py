"""Read a multipart upload as it streams in: the file goes to disk chunk by chunk, never whole into memory."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TypedDict

from fastapi import Request
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from runtime.errors import Invalid, PayloadTooLarge, UnsupportedMediaType, field_error
from services.verification.evidence_store import Incoming, TooLarge

FIELD_LIMIT = 64 * 1024
MAX_FIELDS = 32
FORM_OVERHEAD = 256 * 1024


@dataclass
class Form:
    """The text fields of an upload and what is known of its one file."""

    fields: dict[str, str] = field(default_factory=dict)
    has_file: bool = False
    filename: str | None = None


def safe_name(raw: str | None) -> str | None:
    """A client's file name reduced to something fit to show: last path segment, no control characters.

    It is kept as data only; stored files are named by their hash, so no name ever becomes a path.
    """
    if not raw:
        return None
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    return name[:255] or None



class _PartState(TypedDict):
    """What the multipart callbacks share while one part is parsed."""

    headers: dict[bytes, bytes]
    name: str | None
    buf: bytearray | None
    header_field: bytes
    header_value: bytes


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the file is larger than the limit of {limit} bytes",
                           details=[{"field": "file", "message": f"larger than {limit} bytes"}])


async def read_form(request: Request, upload: Incoming) -> Form:
    """Parse a multipart/form-data body; the part named `file` streams into `upload`, the rest are small fields."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType("send the evidence as multipart/form-data",
                                   details=[{"field": "body", "message": "expected multipart/form-data"}])
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > upload.limit + FORM_OVERHEAD:
        raise _too_large(upload.limit)
    form = Form()
    state: _PartState = {"headers": {}, "name": None, "buf": None, "header_field": b"", "header_value": b""}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] = state["header_field"] + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] = state["header_value"] + data[start:end]

    def on_header_end() -> None:
        headers: dict[bytes, bytes] = state["headers"]
        headers[bytes(state["header_field"]).lower()] = bytes(state["header_value"])
        state["header_field"] = b""
        state["header_value"] = b""

    def on_headers_finished() -> None:
        headers: dict[bytes, bytes] = state["headers"]
        _, disp = parse_options_header(headers.get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if name == "file":
            if form.has_file:
                raise field_error("file", "send exactly one file per upload")
            form.has_file = True
            raw = disp.get(b"filename")
            form.filename = safe_name(raw.decode("utf-8", "replace") if raw is not None else None)
            state["buf"] = None
        else:
            if len(form.fields) >= MAX_FIELDS:
                raise Invalid("too many form fields", details=[{"field": "body", "message": "too many fields"}])
            state["buf"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        buf = state["buf"]
        if buf is None:
            upload.write(data[start:end])
            return
        assert isinstance(buf, bytearray)
        buf.extend(data[start:end])
        if len(buf) > FIELD_LIMIT:
            raise field_error(str(state["name"]), f"longer than {FIELD_LIMIT} bytes")

    def on_part_end() -> None:
        buf = state["buf"]
        name = str(state["name"])
        if isinstance(buf, bytearray) and name:
            try:
                form.fields[name] = buf.decode("utf-8")
            except UnicodeDecodeError:
                raise field_error(name, "not UTF-8 text") from None
        state["headers"] = {}
        state["buf"] = None

    parser = MultipartParser(boundary, callbacks={
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except TooLarge:
        raise _too_large(upload.limit) from None
    except (Invalid, UnsupportedMediaType):
        raise
    except MultipartParseError as exc:
        raise Invalid(f"malformed multipart body: {exc}",
                      details=[{"field": "body", "message": "malformed multipart"}]) from None
    if not form.has_file:
        raise field_error("file", "field required")
    return form


_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def is_sha256(value: str) -> bool:
    """Whether a string is a hex SHA-256 digest."""
    return bool(_HEX64.match(value))
