"""Reading a `multipart/form-data` body with caps; and sorting it into files, text and JSON parts.

`read_parts` is the one reader: it hands each part with its bytes to the caller, read chunk
by chunk and refused with 413 as soon as the body passes the part count or the byte cap
(aiohttp's `client_max_size` does not apply to a streamed multipart body, so this is the only
cap), and with 400 when the body is not readable multipart; Content-Transfer-Encoding is
undone. A face with a form of its own (DSpace) sorts the parts itself; `read_form` sorts them
by Concord's rules.

Concord's rules (`MultipartUtils`): an `application/json` part is JSON; a part with a filename
or any media type other than `text/plain` is a file, named by its part name (as Concord does:
`-F myFile.txt=@local.txt` is the file `myFile.txt`); every other part is text (RFC 7578: a
part without a media type is `text/plain`). A repeated text name keeps every value, in order.
Names with `..` or a leading `/` are refused (400), and so is any file name that could not be
a plain relative path.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import BodyPartReader, web
from aiohttp.helpers import parse_mimetype
from aiohttp.http_exceptions import HttpProcessingError

from infra.archives import UnsafeArchive, check_name
from services.http.problems import ProblemError

_CHUNK = 64 * 1024
# What aiohttp's multipart reader raises on a body that is not multipart: a part without
# headers, a header line it cannot parse (InvalidHeader), a boundary it cannot find.
_MALFORMED = (ValueError, AssertionError, KeyError, HttpProcessingError, binascii.Error)


@dataclass
class MultipartForm:
    """What a form held: files by name, text values by name (repeats kept), JSON parts by name."""

    files: dict[str, bytes] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)
    json: dict[str, Any] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        """The last value of a text part, if sent."""
        values = self.texts.get(name)
        return values[-1] if values else None


def check_part_name(name: str | None, *, kind: str = "part") -> str:
    """A part or file name without `..` or a leading `/` (400 otherwise)."""
    if not name:
        raise ProblemError(400, f"a multipart {kind} has no name")
    if ".." in name or name.startswith("/"):
        raise ProblemError(400, f"multipart {kind} name {name[:120]!r} must not contain '..' or start with '/'")
    return name


async def read_parts(
    request: web.Request, take: Callable[[BodyPartReader, bytes], None], *, max_parts: int, max_bytes: int
) -> None:
    """Hand each part of a multipart body with its content to `take`: 400 if it is not one, 413 past a cap."""
    if not parse_mimetype(request.headers.get("Content-Type", "")).parameters.get("boundary", "").strip('"'):
        raise ProblemError(400, "a multipart body needs a non-empty boundary parameter in its Content-Type")
    try:
        reader = await request.multipart()
    except _MALFORMED as e:
        raise ProblemError(400, f"the body is not readable multipart/form-data: {e}") from None
    count, total = 0, 0
    while True:
        try:
            part = await reader.next()
        except _MALFORMED as e:
            raise ProblemError(400, f"the multipart body is malformed: {_said(e)}") from None
        if part is None:
            if count == 0:  # RFC 2046: a multipart body has one or more parts
                raise ProblemError(400, "the multipart body has no parts")
            return
        count += 1
        if count > max_parts:
            raise ProblemError(413, f"the form has more than {max_parts} parts")
        if not isinstance(part, BodyPartReader):
            raise ProblemError(400, "nested multipart bodies are not accepted")
        _check_disposition(part)
        data = await _read_part(part, max_bytes - total)
        total += len(data)
        take(part, data)


def _check_disposition(part: BodyPartReader) -> None:
    # RFC 7578 4.2: every part is `Content-Disposition: form-data` with a `name` parameter.
    disposition = (part.headers.get("Content-Disposition") or "").split(";")[0].strip().lower()
    if disposition != "form-data" or not part.name:
        raise ProblemError(400, "every multipart part needs `Content-Disposition: form-data; name=...`")


def _said(error: Exception) -> str:
    # aiohttp's messages quote the offending bytes over several lines: one short line is enough.
    return " ".join(str(error).split())[:200]


def part_text(part: BodyPartReader, data: bytes) -> str:
    """A part's content as text in its declared charset (UTF-8 if none); 400 otherwise."""
    try:
        return data.decode(part.get_charset(default="utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise ProblemError(400, f"part {part.name!r} is not text in its declared charset") from None


async def read_form(request: web.Request, *, max_parts: int, max_bytes: int) -> MultipartForm:
    """The parts of a multipart body sorted by Concord's rules (above)."""
    form = MultipartForm()
    await read_parts(request, lambda part, data: _classify(form, check_part_name(part.name), part, data),
                     max_parts=max_parts, max_bytes=max_bytes)
    return form


async def _read_part(part: BodyPartReader, budget: int) -> bytes:
    out = bytearray()
    try:
        while chunk := await part.read_chunk(_CHUNK):
            out += chunk
            if len(out) > budget:
                raise ProblemError(413, "the form is larger than this service accepts")
    except _MALFORMED as e:
        raise ProblemError(400, f"the multipart body is malformed: {_said(e)}") from None
    if not part.headers.get("Content-Transfer-Encoding"):
        return bytes(out)
    # Content-Transfer-Encoding (base64, quoted-printable) is undone here, as RFC 7578 allows it.
    try:
        if part.headers["Content-Transfer-Encoding"].strip().lower() == "base64":
            return base64.b64decode(b"".join(bytes(out).split()), validate=True)
        return bytes(part.decode(bytes(out)))
    except (*_MALFORMED, RuntimeError) as e:  # RuntimeError: an encoding aiohttp does not know
        raise ProblemError(400, f"part {part.name!r} cannot be decoded: {_said(e)}") from None


def _classify(form: MultipartForm, name: str, part: BodyPartReader, data: bytes) -> None:
    media = (part.headers.get("Content-Type") or "text/plain").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        if name in form.json:
            raise ProblemError(400, f"the JSON part {name!r} appears more than once")
        try:
            form.json[name] = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise ProblemError(400, f"part {name!r} is not valid JSON: {e}", title="Malformed JSON") from None
    elif part.filename is not None or media != "text/plain":
        _file_name(name, part.filename)
        if name in form.files:
            raise ProblemError(400, f"the file {name!r} appears more than once")
        form.files[name] = data
    else:
        form.texts.setdefault(name, []).append(part_text(part, data))


def _file_name(name: str, filename: str | None) -> None:
    if filename:
        check_part_name(filename, kind="file")
    try:
        check_name(name)
    except UnsafeArchive as e:
        raise ProblemError(400, f"multipart file name refused: {e}") from None
