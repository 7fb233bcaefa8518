"""The repository is complete on its own: no file reads or cites anything beside it, and every
document of ours that the code cites exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {".git", ".venv", ".procession", ".hypothesis", ".pytest_cache", "build", "__pycache__"}
SUFFIXES = {".py", ".md", ".toml", ".sql", ".bpmn", ".json", ".txt", ".cfg", ".ini", ".yml", ".yaml", ""}
# Paths and notes that live beside a checkout but not in it (written so this file does not match).
OUTSIDE = re.compile(r"\.\./shared|\bshared/(?:design|fixtures|seeds)\b|seed-semantic[s]|parents\[[3-9]\]")
CITED_DOC = re.compile(r"\bdocs/[\w./-]+\.md\b")


def repository_texts() -> dict[str, str]:
    """Every text file of the checkout by its relative path (tools' and caches' folders left out)."""
    texts = {}
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if path.is_file() and path.suffix in SUFFIXES and not SKIPPED.intersection(parts) \
                and not any(part.endswith(".egg-info") for part in parts):
            texts["/".join(parts)] = path.read_text(encoding="utf-8", errors="replace")
    return texts


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return repository_texts()


def test_the_scan_sees_the_code_the_tests_and_the_docs(texts: dict[str, str]) -> None:
    assert {"README.md", "docs/faces.md", "services/app.py", "tests/conftest.py"} <= set(texts)


def test_no_file_reads_or_cites_anything_outside_the_repository(texts: dict[str, str]) -> None:
    found = {name: [m.group(0) for m in OUTSIDE.finditer(text)] for name, text in texts.items()}

    assert {name: hits for name, hits in found.items() if hits} == {}


def test_every_document_the_repository_cites_exists(texts: dict[str, str]) -> None:
    cited = {m.group(0) for text in texts.values() for m in CITED_DOC.finditer(text)}

    assert "docs/faces.md" in cited
    assert sorted(c for c in cited if not (ROOT / c).is_file()) == []
