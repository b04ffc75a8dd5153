"""Decompression bombs: an image whose declared dimensions exceed the pixel limit is refused before decoding."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from services.verification.media import read_photo
from services.verification.sniff import ImageTooLarge, sniff
from tests.verification.helpers import World, photo


def png_declaring(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header declares `width` × `height` pixels (its data is a few KB)."""
    rows = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    data = b"".join(rows.compress(row) for _ in range(min(height, 64))) + rows.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale: tiny when compressed
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def stored_files(world: World) -> list[Path]:
    root = world.ver.settings.evidence_path()
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_png_declaring_13000_by_13000_pixels_is_refused_413_naming_file(world: World) -> None:
    issue = await world.issue()
    bomb = png_declaring(13000, 13000)
    assert len(bomb) < 600_000
    r = await world.upload(issue, bomb, name="site.png")
    assert r.status_code == 413, r.text
    body = r.json()["error"]
    assert body["code"] == "payload_too_large"
    assert body["details"][0]["field"] == "file"
    assert "像素" in body["message"]
    assert stored_files(world) == []


@pytest.mark.settings(max_image_pixels=1000)
async def test_the_pixel_limit_is_a_setting_and_a_photo_within_it_is_accepted(world: World) -> None:
    issue = await world.issue()
    assert (await world.upload(issue, photo(size=(64, 48)))).status_code == 413
    assert (await world.upload(issue, photo(size=(32, 24)))).status_code == 201


def test_sniffing_and_photo_reading_refuse_by_declared_size_before_decoding(tmp_path: Path) -> None:
    bomb = png_declaring(20000, 20000)
    with pytest.raises(ImageTooLarge):
        sniff(bomb, max_pixels=40_000_000)
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    with pytest.raises(ImageTooLarge):
        read_photo(path, max_pixels=40_000_000)
    buf = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buf, "PNG")
    assert sniff(buf.getvalue(), max_pixels=40_000_000) == "image/png"
