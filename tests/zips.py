"""Archives for tests: well-formed ones, and a corpus of hostile ones built byte by byte."""

from __future__ import annotations

import io
import stat
import warnings
import zipfile


def a_zip(files: dict[str, bytes | str], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A plain archive holding `files` (name -> content; a name ending in '/' is a directory)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


def with_symlink(name: str = "link", target: str = "/etc/passwd") -> bytes:
    """An archive whose entry is a Unix symbolic link (mode bits in external_attr)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
    return buffer.getvalue()


def bomb(size: int = 20 * 1024 * 1024) -> bytes:
    """One entry of zeros compressed about 1000:1."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * size)
    return buffer.getvalue()


def duplicate_names() -> bytes:
    """Two entries with one name (zipfile warns while writing it; that is the point)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("same.txt", "first")
            archive.writestr("same.txt", "second")
    return buffer.getvalue()


def overlapping() -> bytes:
    """Two central-directory entries that point at the same local file data."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "x" * 100)
        first = archive.filelist[0]
        twin = zipfile.ZipInfo("b.txt", first.date_time)
        for field in ("compress_type", "CRC", "compress_size", "file_size", "header_offset", "flag_bits"):
            setattr(twin, field, getattr(first, field))
        archive.filelist.append(twin)
        archive.NameToInfo[twin.filename] = twin
    return buffer.getvalue()


def many_entries(count: int = 10_000) -> bytes:
    """`count` tiny files."""
    return a_zip({f"f/{n}.txt": "" for n in range(count)}, method=zipfile.ZIP_STORED)


HOSTILE = {
    "parent traversal": lambda: a_zip({"../../x": "escaped"}),
    "traversal inside a path": lambda: a_zip({"ok/../../x": "escaped"}),
    "absolute path": lambda: a_zip({"/etc/x": "escaped"}),
    "drive letter": lambda: a_zip({"C:/x": "escaped"}),
    "backslash": lambda: a_zip({"..\\..\\x": "escaped"}),
    "symbolic link": with_symlink,
    "zip bomb": bomb,
    "duplicate names": duplicate_names,
    "overlapping entries": overlapping,
    "file and directory clash": lambda: a_zip({"a": "file", "a/b": "under a file"}),
    "ten thousand entries": many_entries,
    "not a zip": lambda: b"this is not a zip archive",
}
"""Each builder makes an archive that must be refused whole."""
