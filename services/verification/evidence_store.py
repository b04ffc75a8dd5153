"""Content-addressed evidence store on a local folder (one copy per distinct content)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO


class TooLarge(Exception):
    """More bytes arrived than the limit allows."""


class Incoming:
    """An upload being received: written to a private temporary file and hashed as it streams in."""

    def __init__(self, root: Path, *, limit: int) -> None:
        tmp_dir = root / ".incoming"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        self.path = Path(name)
        self.fh: BinaryIO = os.fdopen(fd, "w+b")
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        """Append a chunk; TooLarge once the total passes the limit (nothing more is written)."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(f"more than {self.limit} bytes")
        self.fh.write(chunk)
        self._hash.update(chunk)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of what has arrived so far."""
        return self._hash.hexdigest()

    def discard(self) -> None:
        """Forget the upload."""
        if not self.fh.closed:
            self.fh.close()
        self.path.unlink(missing_ok=True)


class EvidenceStore:
    """Files named by their SHA-256, written atomically, never executed or served inline."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        """Where content with this hash lives (the name is the hash: a client's file name never becomes a path)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def incoming(self, *, limit: int) -> Incoming:
        """Start receiving an upload of at most `limit` bytes."""
        return Incoming(self.root, limit=limit)

    def keep(self, upload: Incoming) -> str:
        """Move a received upload to its content address (once per distinct content); returns the SHA-256."""
        digest = upload.sha256
        target = self.path_for(digest)
        upload.fh.flush()
        os.fsync(upload.fh.fileno())
        upload.fh.close()
        if target.exists():
            upload.path.unlink(missing_ok=True)
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(upload.path, 0o440)
        os.replace(upload.path, target)
        return digest

    def put(self, content: bytes) -> str:
        """Store content given in memory (once) and return its SHA-256."""
        upload = self.incoming(limit=len(content))
        try:
            upload.write(content)
            return self.keep(upload)
        except BaseException:
            upload.discard()
            raise

    def get(self, sha256: str) -> bytes:
        """The content with this hash."""
        return self.path_for(sha256).read_bytes()
