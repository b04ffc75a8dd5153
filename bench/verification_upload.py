"""Sustained evidence upload: 5 MiB photos over HTTP to a real verification process, MiB/s.

Baseline, measured in the same run: the same bytes written to disk by a plain loop (open, write, fsync, close),
which is what the store must do at the least. The service also sniffs the type, hashes, reads EXIF, computes a
perceptual hash, checks reuse and commits the record and its events.

    .venv/bin/python bench/verification_upload.py [--quick] [--count N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from figures import figure

from tests.e2e.cluster import Cluster, eventually

MIB = 1024 * 1024


def base_photo(target: int = 5 * MIB) -> bytes:
    """A noisy photo-sized JPEG of about `target` bytes (noise compresses like a busy real scene, or worse)."""
    rnd = random.Random(7)
    side = 1600
    while True:
        img = Image.frombytes("RGB", (side, side * 3 // 4), rnd.randbytes(side * (side * 3 // 4) * 3))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=92)
        if buf.tell() >= target:
            return buf.getvalue()
        side = int(side * 1.15)


def variant(base: bytes, n: int) -> bytes:
    """The same picture with a distinct JPEG comment: distinct content (so nothing is deduplicated), same pixels."""
    comment = f"closeloop bench {n:08d}".encode()
    return base[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + base[2:]


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident memory of a process (Linux), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def baseline(files: list[bytes], folder: Path) -> float:
    """Seconds to write the files with a plain loop, fsync'd like the store does."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for i, content in enumerate(files):
        with open(folder / f"{i:06d}.jpg", "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
    return time.perf_counter() - started


def inspect_only(files: list[bytes], folder: Path) -> float:
    """Seconds the content checks alone take (sniff, EXIF, pHash), one thread: the floor of the service's cost."""
    from services.verification.media import read_photo
    from services.verification.sniff import sniff_stream

    read_photo(folder / "000000.jpg")  # imports and first-use costs out of the timing
    started = time.perf_counter()
    for i, content in enumerate(files):
        path = folder / f"{i:06d}.jpg"
        with open(path, "rb") as fh:
            assert sniff_stream(fh, len(content)) == "image/jpeg"
        read_photo(path)
    return time.perf_counter() - started


async def main(count: int, concurrency: int) -> None:
    base = base_photo()
    files = [variant(base, i) for i in range(count)]
    total = sum(len(f) for f in files)
    print(f"{count} photos of {len(base) / MIB:.2f} MiB ({total / MIB:.1f} MiB), concurrency {concurrency}")
    with tempfile.TemporaryDirectory(prefix="closeloop-bench-") as tmp:
        c = Cluster(data_dir=Path(tmp) / "cluster")
        c.data_dir.mkdir(parents=True)
        try:
            for name in ("issues", "verification"):
                c.start(name)
            await c.wait_ready(("issues", "verification"))
            async with httpx.AsyncClient(timeout=120) as client:
                admin = c.auth(org="inspection-office", roles="admin")
                for body in [{"id": "inspection-office", "name": "督察整改办", "kind": "inspection_office"},
                             {"id": "city-eeb", "name": "呼和浩特市生态环境局", "kind": "department",
                              "zone_type": "department"}]:
                    assert (await client.post(f"{c.url('issues')}/v1/orgs", json=body, headers=admin)).is_success
                r = await client.post(f"{c.url('issues')}/v1/rounds", headers=admin, json={
                    "id": "r", "name": "督察", "level": "regional", "feedback_on": "2020-05-17"})
                assert r.is_success, r.text
                r = await client.post(f"{c.url('issues')}/v1/issues", headers=admin, json={
                    "code": "B-1", "round_id": "r", "category": "air", "title": "扬尘",
                    "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office",
                    "deadline": "2020-12-31"})
                issue = r.json()["id"]
                eeb = c.auth(org="city-eeb", roles="responsible")
                url = f"{c.url('verification')}/v1/evidence"

                async def known() -> bool:
                    r = await client.get(f"{url}?issue_id={issue}", headers=eeb)
                    return r.status_code == 200

                await eventually(known)
                queue: asyncio.Queue[bytes] = asyncio.Queue()
                for f in files:
                    queue.put_nowait(f)

                async def worker() -> None:
                    while not queue.empty():
                        content = queue.get_nowait()
                        r = await client.post(url, headers=eeb, data={"issue_id": issue, "kind": "photo"},
                                              files={"file": ("p.jpg", content, "image/jpeg")})
                        assert r.status_code == 201, r.text

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                service_s = time.perf_counter() - started
                peak = vm_hwm_kib(c.procs["verification"].pid)
        finally:
            c.stop_all()
        plain_s = baseline(files, Path(tmp) / "plain")
        decode_s = inspect_only(files[: min(len(files), 8)], Path(tmp) / "plain")
    service = total / MIB / service_s
    plain = total / MIB / plain_s
    print(f"service upload (HTTP, sniff, hash, EXIF, pHash, reuse check, commit): {service:8.1f} MiB/s"
          f"  ({count / service_s:.1f} photos/s)")
    print(f"baseline plain write+fsync loop, same bytes:                        {plain:8.1f} MiB/s")
    print(f"ratio service / baseline: {service / plain:.2f}")
    figure("verification.upload", f"evidence upload, {count} photos of 5 MiB, concurrency {concurrency}", service,
           plain, "MiB/s", baseline_name="plain write + fsync loop")
    inspected = sum(len(f) for f in files[: min(len(files), 8)]) / MIB / decode_s
    print(f"reference: type check + EXIF + pHash alone, one thread:           {inspected:8.1f} MiB/s")
    if peak:
        print(f"verification process peak RSS: {peak / 1024:.0f} MiB (files are streamed to disk, not buffered)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (< 60 s)")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.count or (12 if args.quick else 60), args.concurrency))
