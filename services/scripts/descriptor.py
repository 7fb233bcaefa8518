"""A script descriptor: the TOML file an operator writes to declare one script.

`name`, `description`, `command` (an argument list, never a shell string; `{python}` is this
interpreter and `{here}` the descriptor's directory), limits, and `[[parameters]]` in DSpace's
shape (`name` like "-m", `nameLong` like "--message", `description`, `type`, `mandatory`).
Read by a pydantic model that refuses unknown keys and takes booleans only as booleans, so a
misspelt key or `mandatory = "false"` stops the service at start, naming the file and the key.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TYPES = ("string", "integer", "boolean", "date", "file", "output")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_FLAG = r"^-{1,2}[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class ParameterFile(BaseModel):
    """One `[[parameters]]` table."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(pattern=_FLAG)
    nameLong: str | None = Field(default=None, pattern=_FLAG)
    description: str = ""
    type: Literal["string", "integer", "boolean", "date", "file", "output"] = "string"
    mandatory: bool = False


class DescriptorFile(BaseModel):
    """The whole descriptor file."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(pattern=_NAME)
    description: str = ""
    command: list[str] = Field(min_length=1)
    time_limit_seconds: float = Field(default=3600, gt=0)
    output_limit_bytes: int = Field(default=64 * 1_048_576, gt=0)
    memory_limit_bytes: int = Field(default=1024 * 1_048_576, gt=0)
    parameters: list[ParameterFile] = Field(default_factory=list)


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


def read_descriptor(path: Path) -> ScriptDescriptor:
    """Read and check one descriptor file; ValueError naming the file, the key and the problem."""
    try:
        raw = DescriptorFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"script descriptor {path}: not TOML: {e}") from None
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        raise ValueError(f"script descriptor {path}: {problems}") from None
    parameters = tuple(
        ScriptParameter(name=p.name, name_long=p.nameLong, description=p.description, type=p.type, mandatory=p.mandatory)
        for p in raw.parameters
    )
    return ScriptDescriptor(
        name=raw.name, description=raw.description, command=tuple(raw.command), parameters=parameters,
        time_limit_seconds=raw.time_limit_seconds, output_limit_bytes=raw.output_limit_bytes,
        memory_limit_bytes=raw.memory_limit_bytes, directory=path.parent.resolve(),
    )
