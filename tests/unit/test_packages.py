"""Our top-level packages are the ones imported: PyPI has packages called events, contracts,
services and projections, and one installed by accident must never shadow ours."""

from importlib import import_module
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["events", "contracts", "projections", "infra", "services"])
def test_our_package_is_the_one_imported(name):
    module = import_module(name)
    assert Path(module.__file__).resolve() == ROOT / name / "__init__.py"


@pytest.mark.parametrize("name", ["events", "contracts"])
def test_the_inner_packages_import_nothing_of_ours(name):
    ours = ("events", "contracts", "projections", "infra", "services")
    for path in (ROOT / name).glob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                top = words[1].split(".")[0]
                assert top == name or top not in ours, f"{path.name}: {line.strip()}"
