"""The house's layering holds: import-linter checks the contracts in pyproject.toml, and this
test checks that every rule is still there (deleting one from the file fails here)."""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
RULES = {
    "events-inner": "forbidden",
    "contracts-inner": "forbidden",
    "projections-on-events": "forbidden",
    "infra-adapters": "forbidden",
    "services-outermost": "forbidden",
    "faces-independent": "independence",
    "faces-thin": "forbidden",
}


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_every_layering_rule_is_configured() -> None:
    assert {k: c["type"] for k, c in contracts().items()} == RULES


def test_every_face_package_is_in_the_independence_rule() -> None:
    faces = {p.name for p in (ROOT / "services/faces").iterdir() if (p / "__init__.py").exists()}
    assert {m.rsplit(".", 1)[1] for m in contracts()["faces-independent"]["modules"]} == faces


def test_the_code_keeps_every_layering_rule() -> None:
    cwd = os.getcwd()
    # import-linter configures logging with dictConfig, which disables every logger that exists
    # already: the tests after this one would log nothing. Their state is put back afterwards.
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    disabled = {logger.name: logger.disabled for logger in loggers}
    os.chdir(ROOT)  # import-linter reads the packages from the current directory
    try:
        assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0
    finally:
        os.chdir(cwd)
        for logger in loggers:
            logger.disabled = disabled[logger.name]
