"""Generated evidence for the demo: site photos (JPEG, with EXIF capture time and GPS when asked) and documents (PDF).

Every file is drawn from its own seed, so the same seed gives the same bytes, and two photos of different seeds
are far apart in perceptual hash (the integrity check must flag only the photo the demo reuses on purpose).
"""

from __future__ import annotations

import io
import random
import time
from datetime import datetime

from PIL import Image, ImageDraw

from runtime.clock import SHANGHAI

SIZE = (320, 240)
_EPOCH = time.gmtime(1577836800)  # a fixed PDF creation date: the default is the wall clock


def _canvas(seed: int) -> Image.Image:
    rnd = random.Random(seed)
    img = Image.new("RGB", SIZE, (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(img)
    for _ in range(24):
        x0, y0 = rnd.randrange(SIZE[0]), rnd.randrange(SIZE[1])
        x1, y1 = x0 + rnd.randrange(20, 160), y0 + rnd.randrange(20, 120)
        draw.rectangle((x0, y0, x1, y1), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    return img


def _dms(value: float) -> tuple[float, float, float]:
    v = abs(value)
    d = int(v)
    m = int((v - d) * 60)
    return (float(d), float(m), round((v - d - m / 60) * 3600, 4))


def photo(seed: int, *, taken: datetime | None = None, gps: tuple[float, float] | None = None) -> bytes:
    """A JPEG site photo; `taken` goes into EXIF DateTimeOriginal (Beijing time), `gps` into the GPS IFD."""
    img = _canvas(seed)
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[36867] = taken.astimezone(SHANGHAI).strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(0x8769)[36881] = "+08:00"
    if gps is not None:
        exif.get_ifd(0x8825).update({1: "N" if gps[0] >= 0 else "S", 2: _dms(gps[0]),
                                     3: "E" if gps[1] >= 0 else "W", 4: _dms(gps[1])})
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, exif=exif)
    return buf.getvalue()


def document(seed: int) -> bytes:
    """A one-page PDF (a scanned meeting record, say) drawn from a seed."""
    buf = io.BytesIO()
    _canvas(seed).convert("L").save(buf, "PDF", resolution=72.0,
                                    creationDate=_EPOCH, modDate=_EPOCH)
    return buf.getvalue()
