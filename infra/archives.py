"""Opening untrusted ZIP archives without trusting a byte of them.

Every entry is checked before any is decompressed: its name must be a plain relative path
(no `..`, no leading `/`, no drive letter, no backslash, no empty or `.` segment, no control
characters); it must be a regular file or a directory (no symlink, device or fifo, read from
the Unix mode bits in `external_attr`); no two entries may share a name or put a file where
another entry needs a directory; no two entries' data may overlap inside the archive (the
"overlapping files" zip bomb); the entry count, the declared total size and each entry's
compression ratio are capped. Decompression then counts the bytes really produced, so an
entry that lies about its size is caught too. Extraction writes only after everything was
read and checked, so a refused archive leaves nothing behind.

The work is CPU- and file-bound: callers on an event loop use `open_zip` / `extract_zip`,
which run it in the default executor. Errors are `ArchiveError` subclasses carrying a clear
message; the HTTP edge maps them (unsafe 400, too large 413, unreadable 400).
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 64 * 1024
_LOCAL_HEADER = 30  # fixed part of a local file header, before its name and extra field
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ArchiveError(Exception):
    """An archive was refused; the message says why."""


class UnsafeArchive(ArchiveError):
    """An entry would escape the working directory, is a link, or collides with another."""


class ArchiveTooLarge(ArchiveError):
    """Too many entries, too many bytes, or a compression ratio only a bomb has."""


class MalformedArchive(ArchiveError):
    """Not a ZIP archive, or one that cannot be read (corrupt, encrypted, unknown method)."""


@dataclass(frozen=True)
class ArchiveLimits:
    """The caps an archive must stay under."""

    max_entries: int = 1000
    max_total_bytes: int = 64 * 1024 * 1024
    max_ratio: int = 100  # uncompressed / compressed, per entry


def check_name(name: str) -> str:
    """A safe relative path for an entry name (directories keep their trailing '/'); else UnsafeArchive."""
    if not name:
        raise UnsafeArchive("an entry has an empty name")
    shown = name[:120]
    if "\\" in name:
        raise UnsafeArchive(f"entry {shown!r}: backslashes are not allowed in names")
    if _CONTROL.search(name):
        raise UnsafeArchive(f"entry {shown!r}: control characters are not allowed in names")
    if name.startswith("/"):
        raise UnsafeArchive(f"entry {shown!r}: absolute paths are not allowed")
    if _DRIVE.match(name):
        raise UnsafeArchive(f"entry {shown!r}: drive letters are not allowed")
    parts = name.removesuffix("/").split("/")
    if any(p == ".." for p in parts):
        raise UnsafeArchive(f"entry {shown!r}: '..' is not allowed in names")
    if any(p in ("", ".") for p in parts):
        raise UnsafeArchive(f"entry {shown!r}: empty or '.' path segments are not allowed")
    return name


def path_under(root: Path, name: str, *, make_parents: bool = False) -> Path:
    """Where the file `name` goes under `root` (an existing, resolved directory); else UnsafeArchive. Blocking.

    The name must pass `check_name`, and the resolved path must stay under `root`. With
    `make_parents` its directories are created, then checked again: a link someone planted on
    the way shows only once they exist.
    """
    path = root / check_name(name)
    if not path.resolve().is_relative_to(root):
        raise UnsafeArchive(f"entry {name[:120]!r} would be written outside the working directory")
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.parent.resolve().is_relative_to(root):
            raise UnsafeArchive(f"entry {name[:120]!r} would be written outside the working directory")
    return path


def _check_kind(info: zipfile.ZipInfo) -> None:
    # Unix mode bits live in the high 16 bits; archives made elsewhere leave them 0 (a plain file).
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise UnsafeArchive(f"entry {info.filename[:120]!r} is a symbolic link")
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchive(f"entry {info.filename[:120]!r} is not a regular file or directory")
    if info.flag_bits & 0x1:
        raise MalformedArchive(f"entry {info.filename[:120]!r} is encrypted")


def _check_layout(entries: list[zipfile.ZipInfo]) -> None:
    """No duplicate names, no file that is also a directory, no overlapping data."""
    files: set[str] = set()
    dirs: set[str] = set()
    for info in entries:
        name = info.filename.removesuffix("/")
        if name in files or (not info.is_dir() and name in dirs):
            raise UnsafeArchive(f"entry {name[:120]!r} appears more than once")
        (dirs if info.is_dir() else files).add(name)
        parts = name.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    if clash := files & dirs:
        raise UnsafeArchive(f"entry {sorted(clash)[0][:120]!r} is both a file and a directory")
    # Each entry's data must end before the next local header begins. The local header is at
    # least 30 bytes plus the name, so this lower bound never refuses an honest archive.
    ordered = sorted(entries, key=lambda i: i.header_offset)
    for this, following in zip(ordered, ordered[1:]):
        end = this.header_offset + _LOCAL_HEADER + len(this.orig_filename.encode()) + this.compress_size
        if end > following.header_offset:
            raise UnsafeArchive(f"entries {this.filename[:60]!r} and {following.filename[:60]!r} overlap")


def _check_sizes(entries: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    if len(entries) > limits.max_entries:
        raise ArchiveTooLarge(f"the archive has {len(entries)} entries; at most {limits.max_entries} are allowed")
    total = sum(i.file_size for i in entries)
    if total > limits.max_total_bytes:
        raise ArchiveTooLarge(f"the archive unpacks to {total} bytes; at most {limits.max_total_bytes} are allowed")
    for info in entries:
        if info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ArchiveTooLarge(
                f"entry {info.filename[:120]!r} is compressed more than {limits.max_ratio}:1 (a zip bomb?)"
            )


def read_zip(data: bytes, limits: ArchiveLimits = ArchiveLimits()) -> dict[str, bytes]:
    """The archive's files, name -> content (directories are implied by names). Blocking."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            _check_sizes(entries, limits)
            for info in entries:
                check_name(info.filename)
                _check_kind(info)
            _check_layout(entries)
            files: dict[str, bytes] = {}
            budget = limits.max_total_bytes
            for info in entries:
                if info.is_dir():
                    continue
                files[info.filename] = _read_entry(archive, info, budget)
                budget -= len(files[info.filename])
            return files
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as e:
        raise MalformedArchive(f"the archive cannot be read: {e}") from None


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    # Count what decompression really yields: the declared size is only a claim.
    out = bytearray()
    with archive.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            out += chunk
            if len(out) > budget:
                raise ArchiveTooLarge("the archive unpacks to more bytes than allowed")
    return bytes(out)


def extract_into(data: bytes, target: Path, limits: ArchiveLimits = ArchiveLimits()) -> list[str]:
    """Unpack into `target` (which must exist); the names written. Blocking.

    Everything is read and checked first, so a refused archive writes nothing. Each path is
    resolved and must stay under `target`, and files are created with O_EXCL|O_NOFOLLOW, so
    even a link planted in `target` by someone else cannot redirect a write.
    """
    files = read_zip(data, limits)
    root = target.resolve(strict=True)
    for name in files:
        path_under(root, name)
    for name, content in files.items():
        path = path_under(root, name, make_parents=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
    return list(files)


async def open_zip(data: bytes, limits: ArchiveLimits = ArchiveLimits()) -> dict[str, bytes]:
    """`read_zip` in the default executor."""
    return await asyncio.get_running_loop().run_in_executor(None, read_zip, data, limits)


async def extract_zip(data: bytes, target: Path, limits: ArchiveLimits = ArchiveLimits()) -> list[str]:
    """`extract_into` in the default executor."""
    return await asyncio.get_running_loop().run_in_executor(None, extract_into, data, target, limits)
