"""Query and path parameters read the same way on every face: integers with bounds, booleans."""

from __future__ import annotations

import re

from services.http.problems import ProblemError

MAX_INT = 2**31 - 1  # PostgreSQL LIMIT/OFFSET and every page number we serve stay below this
MAX_VERSION = 2**63 - 1  # event positions and aggregate versions are bigints
_INTEGER = re.compile(r"-?[0-9]{1,19}")


def integer(raw: str | None, name: str, *, default: int, minimum: int = 0, maximum: int = MAX_INT) -> int:
    """`raw` as an ASCII integer in [minimum, maximum], `default` when absent; 400 naming `name` otherwise
    (an empty value too: it is not a number)."""
    if raw is None:
        return default
    value = int(raw) if _INTEGER.fullmatch(raw) else None
    if value is None or not minimum <= value <= maximum:
        raise ProblemError(400, f"{name} must be an integer from {minimum} to {maximum}, got {raw[:40]!r}",
                           errors=[f"{name}: {raw[:40]!r} is not allowed"])
    return value


def boolean(raw: str | None, name: str, *, default: bool = False) -> bool:
    """`true`/`false` (any case), `default` when absent or empty; 400 otherwise."""
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ProblemError(400, f"{name} must be true or false, got {raw[:20]!r}")
