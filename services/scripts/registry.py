"""The scripts an operator declared (never uploaded), and the check of arguments against them.

The shipped descriptors live in `services/scripts/shipped/`; an operator's directory (setting
`scripts_dir`) adds more or replaces a shipped one by name. A descriptor's format is in
`services/scripts/descriptor.py`.

Arguments reach parameters by name whichever face they come through: "-m", "--message",
"m" and "message" all name the same parameter; values are stored under the canonical key
(the long name without dashes, else the short one).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from events.errors import InvalidInput, NotFound
from infra.archives import UnsafeArchive, check_name
from services.scripts.descriptor import ScriptDescriptor, ScriptParameter, read_descriptor

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_TRUE, _FALSE = ("true", "yes", "1", "on", ""), ("false", "no", "0", "off")
SHIPPED = Path(__file__).parent / "shipped"


def check_arguments(
    script: ScriptDescriptor, arguments: dict[str, Any], files: set[str], *, strict: bool = True
) -> dict[str, Any]:
    """Canonical values for `arguments`, or InvalidInput naming every bad one.

    `strict` refuses unknown names (a caller's request); a flow's instance data may hold
    other keys, which are then ignored. `files` are the names of the uploaded files.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, value in arguments.items():
        parameter = script.parameter(str(name))
        if parameter is None:
            if strict:
                problems.append(f"{name}: {script.name} has no such parameter")
            continue
        if parameter.key in values:
            problems.append(f"{name}: given more than once")
            continue
        try:
            values[parameter.key] = _convert(parameter, value, files)
        except ValueError as e:
            problems.append(f"{name}: {e}")
    for parameter in script.parameters:
        if parameter.mandatory and parameter.key not in values:
            problems.append(f"{parameter.name}: the mandatory parameter {parameter.name_long or parameter.name} is missing")
    if problems:
        raise InvalidInput(f"invalid arguments for script {script.name!r}", problems)
    return values


def _convert(p: ScriptParameter, value: Any, files: set[str]) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("contains a NUL character")
    if p.type == "boolean":
        text = "" if value is None else str(value).lower()
        if isinstance(value, bool) or text in _TRUE or text in _FALSE:
            return value if isinstance(value, bool) else text in _TRUE
        raise ValueError(f"must be true or false, got {str(value)[:40]!r}")
    if value is None or isinstance(value, dict | list):
        raise ValueError(f"requires a {p.type} value")
    if p.type == "integer":
        if isinstance(value, bool) or not (isinstance(value, int) or _INTEGER.fullmatch(str(value))):
            raise ValueError(f"must be a whole number, got {str(value)[:40]!r}")
        return int(value)
    text = str(value)
    if p.type == "date":
        try:
            (datetime if "T" in text else date).fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"must be an ISO-8601 date, got {text[:40]!r}") from None
    elif p.type == "file" and text not in files:
        raise ValueError(f"names no uploaded file ({text[:80]!r})")
    elif p.type == "output" and ("/" in text or not is_file_path(text)):
        raise ValueError(f"must be a plain file name, got {text[:80]!r}")
    return text


def is_file_path(name: str) -> bool:
    """A relative path naming a file (`a.txt`, `docs/a.txt`) that a working directory can hold.

    Path safety is decided by the archive rule (`infra.archives.check_name`: no `..`, `.` or
    empty segment, no leading '/', backslash, drive letter or control character), so archive
    entries and uploaded files pass or fail alike. Besides: a file, not a directory (no
    trailing '/'), of at most 255 printable characters.
    """
    if not 0 < len(name) <= 255 or not name.isprintable() or name.endswith("/"):
        return False
    try:
        check_name(name)
    except UnsafeArchive:
        return False
    return True


class ScriptRegistry:
    """Every registered script by name."""

    def __init__(self, scripts: dict[str, ScriptDescriptor]) -> None:
        self.scripts = scripts

    @classmethod
    def load(cls, extra: Path | None = None) -> ScriptRegistry:
        """The shipped scripts, then the operator's (which win on a name clash)."""
        scripts: dict[str, ScriptDescriptor] = {}
        for directory in (SHIPPED, extra):
            if directory is not None:
                for path in sorted(Path(directory).glob("*.toml")):
                    script = read_descriptor(path)
                    scripts[script.name] = script
        return cls(scripts)

    def get(self, name: str) -> ScriptDescriptor:
        """The script called `name`; NotFound otherwise."""
        script = self.scripts.get(name)
        if script is None:
            raise NotFound(f"no script called {name!r}")
        return script

    def all(self) -> list[ScriptDescriptor]:
        """Every script, by name."""
        return [self.scripts[n] for n in sorted(self.scripts)]

    def keys_for(self, name: str) -> set[str]:
        """Every canonical key a parameter name may mean in some script (for list filters)."""
        keys = {name.lstrip("-")}
        for script in self.scripts.values():
            if (p := script.parameter(name)) is not None:
                keys.add(p.key)
        return keys
