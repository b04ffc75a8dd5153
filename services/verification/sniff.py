"""Decide a file's type from its bytes, never from its name or the client's header. No I/O."""

from __future__ import annotations

import io
import zipfile


def sniff(content: bytes) -> str | None:
    """The media type of an allowed kind of file, or None when it is not one."""
    head = content[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf" if b"%%EOF" in content[-2048:] else None
    if head.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if "[Content_Types].xml" in names and any(n.startswith("word/") for n in names):
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        return None
    if _looks_like_csv(content):
        return "text/csv"
    return None


def _looks_like_csv(content: bytes) -> bool:
    try:
        text = content[:65536].decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    lowered = text.lower()
    if "<" in text and any(tag in lowered for tag in ("<html", "<script", "<svg", "<?xml", "<!doctype", "<body")):
        return False
    if any(ord(c) < 9 or 13 < ord(c) < 32 for c in text):
        return False
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return bool(lines) and "," in lines[0]
