"""Script descriptors are read strictly: a mistake stops the service at start, naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.scripts.descriptor import read_descriptor

GOOD = """
name = "hello"
description = "Says hello"
command = ["{python}", "-c", "print('hello')"]
time_limit_seconds = 5

[[parameters]]
name = "-m"
nameLong = "--message"
type = "string"
mandatory = true
"""


def descriptor(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hello.toml"
    path.write_text(text)
    return path


def test_a_valid_descriptor_is_read_with_its_parameters(tmp_path: Path) -> None:
    script = read_descriptor(descriptor(tmp_path, GOOD))
    assert (script.name, script.time_limit_seconds, script.directory) == ("hello", 5.0, tmp_path.resolve())
    assert [(p.name, p.name_long, p.mandatory) for p in script.parameters] == [("-m", "--message", True)]


def test_a_misspelt_key_is_refused_naming_the_file_and_the_key(tmp_path: Path) -> None:
    path = descriptor(tmp_path, GOOD.replace("time_limit_seconds", "time_limit_secs"))
    with pytest.raises(ValueError, match=r"hello\.toml.*time_limit_secs"):
        read_descriptor(path)


def test_a_boolean_written_as_text_is_refused(tmp_path: Path) -> None:
    path = descriptor(tmp_path, GOOD.replace("mandatory = true", 'mandatory = "false"'))
    with pytest.raises(ValueError, match=r"parameters\.0\.mandatory"):
        read_descriptor(path)


@pytest.mark.parametrize("change", [
    ('command = ["{python}", "-c", "print(\'hello\')"]', "command = []"),
    ('command = ["{python}", "-c", "print(\'hello\')"]', 'command = "python -c print"'),
    ('name = "hello"', 'name = "../hello"'),
    ('name = "-m"', 'name = "m m"'),
    ('type = "string"', 'type = "float"'),
    ("time_limit_seconds = 5", "time_limit_seconds = -1"),
])
def test_a_descriptor_that_breaks_a_rule_is_refused(tmp_path: Path, change: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match=r"script descriptor .*hello\.toml"):
        read_descriptor(descriptor(tmp_path, GOOD.replace(*change)))


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not TOML"):
        read_descriptor(descriptor(tmp_path, "name = "))
