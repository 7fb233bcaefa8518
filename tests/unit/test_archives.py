"""Untrusted ZIP archives: safe ones open, hostile ones are refused before anything is written."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra.archives import (
    ArchiveLimits, ArchiveTooLarge, MalformedArchive, UnsafeArchive, check_name, extract_into, open_zip, read_zip,
)
from tests.zips import HOSTILE, a_zip, bomb, duplicate_names, many_entries, overlapping, with_symlink


def test_an_archive_with_nested_directories_opens_to_its_files():
    data = a_zip({"request.json": "{}", "docs/": "", "docs/a/b.txt": "deep", "flow.bpmn": "<x/>"})

    assert read_zip(data) == {"request.json": b"{}", "docs/a/b.txt": b"deep", "flow.bpmn": b"<x/>"}


async def test_opening_runs_off_the_event_loop_and_gives_the_same_files():
    assert await open_zip(a_zip({"a.txt": "A"})) == {"a.txt": b"A"}


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "C:/x", "c:x", "a\\b", "a//b", "./a", "a/./b", "", "a\x00b"])
def test_unsafe_entry_names_are_refused(name):
    with pytest.raises(UnsafeArchive):
        check_name(name)


@pytest.mark.parametrize("name", ["a", "a/b/c.txt", "dir/", "..a", "a..b/c", "ünïcode.txt"])
def test_plain_relative_names_are_accepted(name):
    assert check_name(name) == name


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_every_hostile_archive_is_refused(kind):
    with pytest.raises((UnsafeArchive, ArchiveTooLarge, MalformedArchive)):
        read_zip(HOSTILE[kind]())


def test_a_traversal_entry_is_refused_as_unsafe():
    with pytest.raises(UnsafeArchive, match=r"'\.\.'"):
        read_zip(a_zip({"../../x": "escaped"}))


def test_a_symbolic_link_is_refused():
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        read_zip(with_symlink())


def test_a_highly_compressed_entry_is_refused_as_a_bomb():
    with pytest.raises(ArchiveTooLarge, match="compressed more than"):
        read_zip(bomb())


def test_the_declared_total_size_is_capped():
    with pytest.raises(ArchiveTooLarge, match="unpacks to"):
        read_zip(a_zip({"a": "x" * 1000, "b": "y" * 1000}, method=zipfile.ZIP_STORED), ArchiveLimits(max_total_bytes=1500))


def test_too_many_entries_are_refused():
    with pytest.raises(ArchiveTooLarge, match="10000 entries"):
        read_zip(many_entries())


def test_duplicate_names_are_refused():
    with pytest.raises(UnsafeArchive, match="more than once"):
        read_zip(duplicate_names())


def test_entries_sharing_data_are_refused_as_overlapping():
    with pytest.raises(UnsafeArchive, match="overlap"):
        read_zip(overlapping())


def test_bytes_that_are_not_a_zip_are_malformed():
    with pytest.raises(MalformedArchive):
        read_zip(b"PK\x03\x04 but not really")


def test_extraction_writes_nested_files_under_the_target(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()

    names = extract_into(a_zip({"a/b/c.txt": "deep", "top.txt": "top"}), work)

    assert sorted(names) == ["a/b/c.txt", "top.txt"]
    assert (work / "a/b/c.txt").read_bytes() == b"deep"


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_refused_archive_writes_nothing_anywhere(tmp_path: Path, kind):
    work, sentinel = tmp_path / "a" / "work", tmp_path / "sentinel"
    work.mkdir(parents=True)
    sentinel.mkdir()

    with pytest.raises((UnsafeArchive, ArchiveTooLarge, MalformedArchive)):
        extract_into(HOSTILE[kind](), work)

    assert list(work.iterdir()) == [] and list(sentinel.iterdir()) == []
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "sentinel", "work"]


def test_extraction_refuses_to_follow_a_link_planted_in_the_target(tmp_path: Path):
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (work / "sub").symlink_to(outside)

    with pytest.raises(UnsafeArchive, match="outside"):
        extract_into(a_zip({"sub/x.txt": "escaped"}), work)

    assert list(outside.iterdir()) == []
