"""Evidence uploads: the type comes from the bytes, hostile files are refused, content is stored once, served as a download."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from PIL import Image

from tests.verification.helpers import World, photo


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def webp() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 10)).save(buf, "WEBP")
    return buf.getvalue()


def pdf() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 10, 200)).save(buf, "PDF")
    return buf.getvalue()


def xlsx() -> bytes:
    wb = Workbook()
    wb.active.append(["监测点", "PM2.5"])
    wb.active.append(["如意河", 33])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"/>')
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


CSV = "监测点,日期,PM2.5\n如意河,2020-06-01,33\n".encode()
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
PE = b"MZ\x90\x00" + b"\x00" * 56 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><body><script>fetch('/v1/closures')</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


def stored_files(world: World) -> list[Path]:
    root = world.ver.settings.evidence_path()
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize(("content", "media_type"), [
    (photo(), "image/jpeg"), (png(), "image/png"), (webp(), "image/webp"), (pdf(), "application/pdf"),
    (xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"), (CSV, "text/csv"),
], ids=["jpeg", "png", "webp", "pdf", "xlsx", "docx", "csv"])
async def test_each_allowed_type_is_recognised_from_its_bytes_whatever_the_name(
        world: World, content: bytes, media_type: str) -> None:
    issue = await world.issue()
    r = await world.upload(issue, content, name="whatever.bin", kind="document")
    assert r.status_code == 201, r.text
    assert r.json()["media_type"] == media_type
    assert r.json()["sha256"] == hashlib.sha256(content).hexdigest() and r.json()["size"] == len(content)


@pytest.mark.parametrize(("name", "content"), [
    ("site.jpg", ELF), ("site.jpg", PE), ("report.csv", HTML), ("site.png", SVG),
    ("report.pdf", b"%PDF-1.7\n" + ELF), ("report.pdf", b"%PDF-1.4\n" + HTML + b"\n%%EOF\n"),
    ("site.jpg", b"\xff\xd8\xff\xe0" + HTML), ("ledger.csv", b"a,b\n" + HTML),
    ("ledger.xlsx", b"PK\x03\x04" + b"\x00" * 100),
], ids=["elf-as-jpg", "pe-as-jpg", "html", "svg-script", "pdf-header-on-elf", "pdf-header-on-html",
        "jpeg-magic-on-html", "csv-with-html", "broken-zip"])
async def test_hostile_or_disguised_files_are_refused_415_and_nothing_is_kept(
        world: World, name: str, content: bytes) -> None:
    issue = await world.issue()
    r = await world.upload(issue, content, name=name)
    assert r.status_code == 415, r.text
    assert r.json()["error"]["details"][0]["field"] == "file"
    assert stored_files(world) == []
    assert [e["type"] for e in await world.ver.events()] == []


async def test_an_empty_file_is_refused_422(world: World) -> None:
    issue = await world.issue()
    r = await world.upload(issue, b"")
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "file"
    assert stored_files(world) == []


@pytest.mark.settings(max_upload_bytes=4096)
async def test_an_oversize_file_is_refused_413_without_keeping_it(world: World) -> None:
    issue = await world.issue()
    r = await world.upload(issue, photo(size=(640, 480)))
    assert r.status_code == 413, r.text
    assert stored_files(world) == []
    small = photo(size=(32, 24))
    assert len(small) <= 4096
    assert (await world.upload(issue, small)).status_code == 201


@pytest.mark.settings(max_upload_bytes=1024)
async def test_a_declared_length_over_the_limit_is_refused_before_reading(world: World) -> None:
    issue = await world.issue()
    body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n\r\n" + b"x" * 5000
    r = await world.client.post("/v1/evidence", headers={**world.resp, "Content-Type": "multipart/form-data; "
                                                         "boundary=b"}, content=body + b"\r\n--b--\r\n")
    assert r.status_code == 413
    assert issue


async def test_a_dot_dot_file_name_is_kept_as_a_label_and_never_used_as_a_path(world: World, tmp_path: Path) -> None:
    issue = await world.issue()
    content = photo(seed=7)
    r = await world.upload(issue, content, name="../../../../tmp/../etc/passwd.jpg")
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "passwd.jpg"
    digest = hashlib.sha256(content).hexdigest()
    assert [p.name for p in stored_files(world)] == [digest]
    assert not any(p.name.startswith("passwd") for p in tmp_path.parent.rglob("passwd*"))
    d = await world.client.get(f"/v1/evidence/{r.json()['id']}/content", headers=world.sup)
    assert "passwd" not in d.headers["content-disposition"]


async def test_a_client_sha256_that_does_not_match_is_refused_422(world: World) -> None:
    issue = await world.issue()
    content = photo(seed=3)
    r = await world.upload(issue, content, sha256="0" * 64)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "sha256"
    assert stored_files(world) == []
    r = await world.upload(issue, content, sha256=hashlib.sha256(content).hexdigest().upper())
    assert r.status_code == 201, r.text


async def test_the_same_content_is_stored_once_however_often_it_is_uploaded(world: World) -> None:
    issue = await world.issue()
    content = photo(seed=4)
    first = await world.evidence(issue, content)
    second = await world.evidence(issue, content, name="again.jpg")
    assert first != second
    assert len(stored_files(world)) == 1


async def test_content_is_served_only_as_a_download_that_browsers_may_not_sniff(world: World) -> None:
    issue = await world.issue()
    r = await world.upload(issue, CSV, name="x.html", kind="monitoring")
    d = await world.client.get(f"/v1/evidence/{r.json()['id']}/content", headers=world.resp)
    assert d.status_code == 200 and d.content == CSV
    assert d.headers["content-disposition"].startswith("attachment;")
    assert d.headers["x-content-type-options"] == "nosniff"
    assert d.headers["content-type"].startswith("text/csv")


async def test_bad_form_fields_are_refused_422_naming_the_field(world: World) -> None:
    issue = await world.issue()
    r = await world.upload(issue, kind="selfie")
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "kind"
    r = await world.upload(issue, captured_at="2020-06-01T10:00:00")
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "captured_at"
    r = await world.upload(issue, latitude="95", longitude="111")
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "latitude"
    r = await world.client.post("/v1/evidence", headers=world.resp, data={"issue_id": issue, "kind": "photo"})
    assert r.status_code in (415, 422)
    assert stored_files(world) == []
