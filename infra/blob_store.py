"""Content-addressed file storage: a directory under the data dir, each file named by its SHA-256.

A blob is written to a temporary name and renamed into place, so a reader never sees half a
file and two writers of the same content simply agree. All file work runs in an executor.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from events.errors import InvalidInput

_CHUNK = 1_048_576


@dataclass(frozen=True)
class Blob:
    """A stored file: its digest (hex SHA-256) and size in bytes."""

    sha256: str
    size: int


class BlobTooLarge(InvalidInput):
    """A file is larger than the store accepts."""


class BlobStore:
    """Stores and finds blobs under `root`; files larger than `max_bytes` are refused."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> Path:
        """Where a blob lives (it may not exist)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    async def put_bytes(self, data: bytes) -> Blob:
        """Store bytes; returns their blob."""
        return await asyncio.get_running_loop().run_in_executor(None, self._put_bytes, data)

    async def put_file(self, source: Path) -> Blob:
        """Store a copy of a file (never following a symbolic link); returns its blob."""
        return await asyncio.get_running_loop().run_in_executor(None, self._put_file, source)

    async def read(self, sha256: str) -> bytes:
        """A blob's content."""
        return await asyncio.get_running_loop().run_in_executor(None, self.path(sha256).read_bytes)

    async def copy_to(self, sha256: str, target: Path) -> None:
        """Copy a blob to a file (used to lay out a script's working directory)."""
        await asyncio.get_running_loop().run_in_executor(None, shutil.copyfile, self.path(sha256), target)

    def _put_bytes(self, data: bytes) -> Blob:
        if len(data) > self.max_bytes:
            raise BlobTooLarge(f"the file has {len(data)} bytes; at most {self.max_bytes} are accepted")
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            self._write(target, lambda out: out.write(data))
        return Blob(digest, len(data))

    def _put_file(self, source: Path) -> Blob:
        # O_NOFOLLOW: a script could leave a link to a file it must not hand out.
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > self.max_bytes:
                raise BlobTooLarge(f"{source.name} has {size} bytes; at most {self.max_bytes} are accepted")
            digest, temp = hashlib.sha256(), self._temp()
            try:
                with open(temp, "wb") as out:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                target = self.path(digest.hexdigest())
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, target)
            finally:
                Path(temp).unlink(missing_ok=True)
        return Blob(digest.hexdigest(), size)

    def _write(self, target: Path, write: object) -> None:
        temp = self._temp()
        try:
            with open(temp, "wb") as out:
                write(out)  # type: ignore[operator]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, target)
        finally:
            Path(temp).unlink(missing_ok=True)

    def _temp(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        os.close(fd)
        return name
