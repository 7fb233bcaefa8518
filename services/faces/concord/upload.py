"""Reading a Concord upload (a ZIP body or a form) into a StartPlan, under the upload caps.

A ZIP body is streamed against `max_upload_bytes` (the app's `client_max_size` is for JSON
bodies); a form is read by the shared multipart reader under the same cap. An archive is
opened with the archive limits: too large is 413, anything else refused is 400.
"""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from infra.archives import ArchiveError, ArchiveLimits, ArchiveTooLarge, open_zip
from services.faces.concord.payload import StartPlan, build_plan, parse_bool, parse_start_at, request_object
from services.http.multipart import read_form
from services.http.problems import ProblemError
from services.http.context import request_context

ZIP_TYPES = ("application/octet-stream", "application/zip", "application/x-zip-compressed")


async def plan_upload(request: web.Request) -> StartPlan:
    """What a ZIP or multipart start asks to run; 415 for any other body."""
    settings, now = request_context(request).runtime.settings, datetime.now(timezone.utc)
    if request.content_type == "multipart/form-data":
        form = await read_form(request, max_parts=settings.max_form_parts, max_bytes=settings.max_upload_bytes)
        archive = await _open_archive(request, form.files.pop("archive", None))
        raw_request = form.json.pop("request", None) or form.files.pop("request", None) or _text_request(form.texts)
        return build_plan(
            archive=archive, request=request_object(raw_request, "request") if raw_request is not None else None,
            texts=form.texts, files=form.files, entry_point=form.text("entryPoint"),
            start_at=parse_start_at(form.text("startAt"), now),
            sync=parse_bool(form.text("sync") or request.query.get("sync"), "sync"),
        )
    if request.content_type in ZIP_TYPES:
        archive = await _open_archive(request, await _read_body(request, settings.max_upload_bytes))
        return build_plan(archive=archive, request=None, texts={}, files={}, entry_point=request.query.get("entryPoint"),
                          start_at=parse_start_at(request.query.get("startAt"), now),
                          sync=parse_bool(request.query.get("sync"), "sync"))
    raise ProblemError(415, f"a process is started from JSON (Hackney), a ZIP or multipart/form-data, not {request.content_type}")


def _text_request(texts: dict[str, list[str]]) -> bytes | None:
    # `-F request='{"arguments": ...}'` sends a plain text field: it is still the request JSON.
    values = texts.pop("request", None)
    if not values:
        return None
    if len(values) > 1:
        raise ProblemError(400, "the request part was sent more than once")
    return values[0].encode()


async def _read_body(request: web.Request, cap: int) -> bytes:
    # Refused as soon as it passes the cap, so a huge body is never held whole.
    if request.content_length is not None and request.content_length > cap:
        raise ProblemError(413, f"the archive is larger than {cap} bytes")
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > cap:
            raise ProblemError(413, f"the archive is larger than {cap} bytes")
    return bytes(data)


async def _open_archive(request: web.Request, data: bytes | None) -> dict[str, bytes] | None:
    if data is None:
        return None
    s = request_context(request).runtime.settings
    try:
        return await open_zip(data, ArchiveLimits(s.max_archive_entries, s.max_archive_unpacked_bytes, s.max_archive_ratio))
    except ArchiveTooLarge as e:
        raise ProblemError(413, f"archive refused: {e}", title="Archive too large") from None
    except ArchiveError as e:
        raise ProblemError(400, f"archive refused: {e}", title="Archive refused") from None
