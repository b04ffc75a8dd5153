"""What a photo says about itself: EXIF capture time and GPS, and a perceptual hash (Pillow, imagehash)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from runtime.clock import SHANGHAI
from services.verification.sniff import DEFAULT_MAX_PIXELS, ImageTooLarge, check_pixels, guard_pillow

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME = 306
DATETIME_ORIGINAL = 36867
OFFSET_TIME_ORIGINAL = 36881


@dataclass(frozen=True)
class PhotoFacts:
    """Capture metadata read from the file, and its perceptual hash (None when unreadable or featureless)."""

    captured_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    phash: str | None = None


def read_photo(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> PhotoFacts:
    """EXIF capture time (local time in Asia/Shanghai unless the file gives an offset), GPS and pHash.

    Raises ImageTooLarge when the photo declares more than `max_pixels` pixels, before decoding it.
    """
    import imagehash
    from PIL import Image

    guard_pillow(max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # check_pixels decides
            img = Image.open(path)
        with img:
            check_pixels(img, max_pixels)
            img.draft("L", (256, 256))  # decode at a fraction of the size: pHash looks at 32×32 anyway
            exif = img.getexif()
            sub = exif.get_ifd(EXIF_IFD)
            gps = exif.get_ifd(GPS_IFD)
            captured = _exif_time(sub.get(DATETIME_ORIGINAL) or exif.get(DATETIME), sub.get(OFFSET_TIME_ORIGINAL))
            lat = _gps_coord(gps.get(2), gps.get(1), "S")
            lon = _gps_coord(gps.get(4), gps.get(3), "W")
            ph = imagehash.phash(img.convert("L"))
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(0, 0, max_pixels) from exc
    except (OSError, ValueError, TypeError, KeyError, SyntaxError):
        # an unreadable photo simply has no metadata; its type was already checked
        return PhotoFacts()
    bits = sum(1 for b in ph.hash.flatten() if b)
    # A near-uniform image hashes to (almost) all zeros or ones: it identifies nothing and would "match" everything.
    phash = str(ph) if 8 <= bits <= 56 else None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    return PhotoFacts(captured_at=captured, latitude=lat, longitude=lon, phash=phash)


def _exif_time(value: object, offset: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        local = datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    tz: tzinfo = SHANGHAI
    if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
        o = offset.strip("\x00 ")
        try:
            sign = -1 if o[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(o[1:3]), minutes=int(o[4:6])))
        except ValueError:
            tz = SHANGHAI
    return local.replace(tzinfo=tz).astimezone(UTC)


def _gps_coord(value: Any, ref: object, negative: str) -> float | None:
    try:
        d, m, s = (float(x) for x in value)  # EXIF of any shape: a wrong one raises below
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    coord = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    return -coord if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative else coord


def phash_distance(a: str, b: str) -> int:
    """Hamming distance between two hex perceptual hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
