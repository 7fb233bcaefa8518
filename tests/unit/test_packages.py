"""Our top-level packages are the ones imported: PyPI has packages called events, contracts,
services and projections, and one installed by accident must never shadow ours. (Which package
may import which is checked by import-linter: tests/unit/test_layers.py.)"""

from importlib import import_module
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["events", "contracts", "projections", "infra", "services"])
def test_our_package_is_the_one_imported(name):
    module = import_module(name)
    assert Path(module.__file__).resolve() == ROOT / name / "__init__.py"
