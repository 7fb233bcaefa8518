"""The scripts an operator declared (never uploaded): what each runs, takes and may use.

A descriptor is a TOML file: `name`, `description`, `command` (an argument list, never a shell
string; `{python}` is this interpreter and `{here}` the descriptor's directory), limits, and
`[[parameters]]` in DSpace's shape (`name` like "-m", `nameLong` like "--message",
`description`, `type`, `mandatory`). The shipped ones live in `services/scripts/shipped/`; an
operator's directory (setting `scripts_dir`) adds more or replaces a shipped one by name.

Arguments reach parameters by name whichever face they come through: "-m", "--message",
"m" and "message" all name the same parameter; values are stored under the canonical key
(the long name without dashes, else the short one).
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from events.errors import InvalidInput, NotFound
from infra.archives import UnsafeArchive, check_name

TYPES = ("string", "integer", "boolean", "date", "file", "output")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_FLAG = re.compile(r"-{1,2}[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_TRUE, _FALSE = ("true", "yes", "1", "on", ""), ("false", "no", "0", "off")
SHIPPED = Path(__file__).parent / "shipped"


@dataclass(frozen=True)
class ScriptParameter:
    """One parameter a script takes."""

    name: str
    name_long: str | None
    description: str
    type: str
    mandatory: bool

    @property
    def key(self) -> str:
        """The canonical key values are stored under."""
        return (self.name_long or self.name).lstrip("-")

    def answers_to(self, name: str) -> bool:
        """Whether `name` (with or without dashes) names this parameter."""
        bare = name.lstrip("-")
        return bare in (self.name.lstrip("-"), (self.name_long or "").lstrip("-")) and bare != ""


@dataclass(frozen=True)
class ScriptDescriptor:
    """A registered script."""

    name: str
    description: str
    command: tuple[str, ...]
    parameters: tuple[ScriptParameter, ...]
    time_limit_seconds: float
    output_limit_bytes: int
    memory_limit_bytes: int
    directory: Path

    def parameter(self, name: str) -> ScriptParameter | None:
        """The parameter a name refers to, if any."""
        return next((p for p in self.parameters if p.answers_to(name)), None)

    def argv(self, values: dict[str, Any]) -> list[str]:
        """The command line for canonical `values`: each a separate argument, in declared order."""
        args = [part.replace("{python}", sys.executable).replace("{here}", str(self.directory)) for part in self.command]
        for p in self.parameters:
            if p.key not in values:
                continue
            value = values[p.key]
            if p.type == "boolean":
                args += [p.name] if value else []
            elif p.name_long:
                args.append(f"{p.name_long}={value}")  # one argument, so a value starting with '-' stays a value
            else:
                args += [p.name, str(value)]
        return args


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


def read_descriptor(path: Path) -> ScriptDescriptor:
    """Read and check one descriptor file; ValueError naming the file and the problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        name = str(raw["name"])
        if not _NAME.fullmatch(name):
            raise ValueError(f"name {name!r} is not a plain script name")
        command = raw["command"]
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise ValueError("command must be a non-empty list of strings (no shell)")
        parameters = tuple(_parameter(p) for p in raw.get("parameters", []))
        return ScriptDescriptor(
            name=name, description=str(raw.get("description", "")), command=tuple(command), parameters=parameters,
            time_limit_seconds=float(raw.get("time_limit_seconds", 3600)),
            output_limit_bytes=int(raw.get("output_limit_bytes", 64 * 1_048_576)),
            memory_limit_bytes=int(raw.get("memory_limit_bytes", 1024 * 1_048_576)),
            directory=path.parent.resolve(),
        )
    except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"script descriptor {path}: {e}") from None


def _parameter(raw: dict[str, Any]) -> ScriptParameter:
    name, long = str(raw["name"]), raw.get("nameLong")
    if not _FLAG.fullmatch(name) or (long is not None and not _FLAG.fullmatch(str(long))):
        raise ValueError(f"parameter {name!r}: names look like -m or --message")
    if raw.get("type", "string") not in TYPES:
        raise ValueError(f"parameter {name!r}: type must be one of {', '.join(TYPES)}")
    return ScriptParameter(
        name=name, name_long=str(long) if long else None, description=str(raw.get("description", "")),
        type=str(raw.get("type", "string")), mandatory=bool(raw.get("mandatory", False)),
    )
