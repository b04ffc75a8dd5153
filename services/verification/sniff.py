"""Decide a file's type from its bytes, never from its name or the client's header. No network, no execution."""

from __future__ import annotations

import codecs
import io
import re
import warnings
import zipfile
from typing import Any, BinaryIO

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CSV = "text/csv"
IMAGES = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
ALLOWED = (JPEG, PNG, WEBP, PDF, XLSX, DOCX, CSV)

_PDF_HEADER = re.compile(rb"^%PDF-[12]\.\d\s")
_PDF_TAIL = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_PDF_OBJ = re.compile(rb"^\d+\s+\d+\s+obj\b")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_MARKUP = (b"<html", b"<script", b"<svg", b"<?xml", b"<!doctype", b"<body", b"<iframe", b"<object")
DEFAULT_MAX_PIXELS = 40_000_000


class ImageTooLarge(Exception):
    """An image whose declared dimensions exceed the pixel limit: refused before any pixel is decoded."""

    def __init__(self, width: int, height: int, limit: int) -> None:
        super().__init__(f"{width}×{height} pixels is more than the limit of {limit}")
        self.width, self.height, self.limit = width, height, limit


def check_pixels(img: Any, limit: int) -> None:
    """Raise ImageTooLarge when an opened (not yet decoded) image declares more than `limit` pixels."""
    width, height = img.size
    if width * height > limit:
        raise ImageTooLarge(width, height, limit)


def guard_pillow(limit: int) -> None:
    """Pillow's own backstop: it warns above MAX_IMAGE_PIXELS and raises DecompressionBombError above twice it."""
    from PIL import Image

    # Our check_pixels refuses at the limit itself; Pillow's error is the second line for any path that forgets it.
    Image.MAX_IMAGE_PIXELS = limit


def sniff(content: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> str | None:
    """The media type of an allowed kind of file given in memory, or None when it is not one."""
    return sniff_stream(io.BytesIO(content), len(content), max_pixels=max_pixels)


def sniff_stream(fh: BinaryIO, size: int, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> str | None:
    """The media type of an allowed kind of file (a seekable binary file of `size` bytes), or None.

    Raises ImageTooLarge for an image declaring more than `max_pixels` pixels.
    """
    if size <= 0:
        return None
    fh.seek(0)
    head = fh.read(16)
    if head.startswith(b"\xff\xd8\xff"):
        return _image(fh, JPEG, max_pixels)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _image(fh, PNG, max_pixels)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _image(fh, WEBP, max_pixels)
    if head.startswith(b"%PDF-"):
        return PDF if _pdf_ok(fh, size) else None
    if head.startswith(b"PK\x03\x04"):
        return _office(fh)
    if _csv_ok(fh):
        return CSV
    return None


def _image(fh: BinaryIO, media_type: str, max_pixels: int) -> str | None:
    """The magic bytes are not enough: Pillow must recognise the same format and find the structure sound."""
    from PIL import Image, UnidentifiedImageError

    guard_pillow(max_pixels)
    fh.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # check_pixels decides
            with Image.open(fh) as img:  # reads the header only: the size is known before any decoding
                check_pixels(img, max_pixels)
                if img.format != IMAGES[media_type]:
                    return None
                img.verify()
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(0, 0, max_pixels) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    return media_type


def _pdf_ok(fh: BinaryIO, size: int) -> bool:
    """A real header, a trailer at the very end, and a cross-reference that points at a table or object."""
    fh.seek(0)
    if not _PDF_HEADER.match(fh.read(16)):
        return False
    tail_len = min(size, 1024)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    m = _PDF_TAIL.search(tail)
    if not m:
        return False
    offset = int(m.group(1))
    if offset <= 0 or offset >= size:
        return False
    fh.seek(offset)
    at = fh.read(64).lstrip()
    return at.startswith(b"xref") or bool(_PDF_OBJ.match(at))


def _office(fh: BinaryIO) -> str | None:
    """An OOXML package: a zip with content types and the part that makes it a workbook or a document."""
    fh.seek(0)
    try:
        with zipfile.ZipFile(fh) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "xl/workbook.xml" in names:
        return XLSX
    if "word/document.xml" in names:
        return DOCX
    return None


def _csv_ok(fh: BinaryIO) -> bool:
    """UTF-8 text throughout, no control characters or markup, a comma-separated first line."""
    fh.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    first = b""
    while chunk := fh.read(1 << 16):
        if not first:
            first = chunk
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError:
            return False
        if _CONTROL.search(text):
            return False
        lowered = chunk.lower()
        if b"<" in chunk and any(tag in lowered for tag in _MARKUP):
            return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    lines = [ln for ln in first.decode("utf-8-sig", "ignore").splitlines() if ln.strip()]
    return bool(lines) and "," in lines[0]
