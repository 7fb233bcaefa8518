"""Rendering the portal's pages: one Jinja2 environment (autoescaped), its helpers and filters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from services.faces.portal.security import SESSION, STATIC
from services.http.app_keys import PRINCIPAL

HTMX = "htmx-2.0.11.min.js"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value


def when(value: datetime | str | None) -> str:
    """A moment as people read it: `2025-01-31 14:05:09 UTC` (empty when there is none)."""
    moment = _moment(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def iso(value: datetime | str | None) -> str:
    """A moment for a `datetime` attribute (the browser's script shows it in local time)."""
    moment = _moment(value)
    return moment.astimezone(UTC).isoformat() if moment else ""


def size(count: int | None) -> str:
    """A byte count in the largest unit that keeps it readable."""
    value = float(count or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value} B"


def _context(request: web.Request) -> dict[str, Any]:
    session = request.get(SESSION)
    return {
        "who": request.get(PRINCIPAL),
        "csrf": session.csrf if session else "",
        "path": request.path,
        "static": STATIC,
        "htmx": HTMX,
    }


def setup(app: web.Application) -> None:
    """Install the environment: templates from this package, autoescaping always on."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("services.faces.portal", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        default_helpers=False,
    )
    env.filters.update(when=when, iso=iso, size=size)


def page(request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200) -> web.Response:
    """A rendered page (or fragment)."""
    return aiohttp_jinja2.render_template(template, request, {**_context(request), **(context or {})}, status=status)
