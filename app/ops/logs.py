"""Structured logs: one JSON object a line, for ``huashu serve`` (uvicorn's loggers and ours).

Every line has ``ts``, ``level``, ``logger`` and ``msg``; a line about a call has its
``call_id`` (given as ``extra={"call_id": …}``, or read from a request path
``/v1/calls/{id}/…``, or from a message that begins ``call %s``). A secret in a URL's query
(``token=``, ``key=``) is never written (PROTOCOL). What a caller or customer said is never
logged at info: no log site in the service passes words, only kinds, ids and codes.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

#: A secret in a query string, as uvicorn's request and WebSocket lines write paths.
_SECRET = re.compile(r"((?:^|[?&\s\"])(?:token|key|api_key|access_token)=)[^&\s\"]*", re.I)
_CALL_PATH = re.compile(r"/v1/calls/([^/?\s\"]+)")
#: Record attributes that are not ``extra`` fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}
#: ``extra`` fields a line may carry, besides ``call_id``.
FIELDS = ("format", "speaker", "code", "status")


def redact(text: str) -> str:
    """``text`` with every query secret replaced."""
    return _SECRET.sub(r"\1[redacted]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage())
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": message,
        }
        call_id = _call_id(record, message)
        if call_id is not None:
            body["call_id"] = call_id
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None and name not in _STANDARD:
                body[name] = value
        if record.exc_info:
            body["exc"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(body, default=str).decode()


def _call_id(record: logging.LogRecord, message: str) -> str | None:
    given = record.__dict__.get("call_id")
    if given is not None:
        return str(given)
    path = _CALL_PATH.search(message)
    if path is not None:
        return path[1]
    if isinstance(record.msg, str) and record.msg.startswith("call %s") and record.args:
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        return str(args[0])
    return None


#: uvicorn's log levels, as the standard library's (``trace`` is uvicorn's own, below debug).
_LEVELS = {"trace": "DEBUG", "debug": "DEBUG", "info": "INFO", "warning": "WARNING"}


def log_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``huashu serve``: JSON lines on stderr for uvicorn's
    loggers and every other (uvicorn sets its own loggers' levels from ``level``)."""
    root = _LEVELS.get(level, level.upper())
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "app.ops.logs.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            "uvicorn": {"handlers": ["json"], "propagate": False},
            "uvicorn.error": {},
            "uvicorn.access": {"handlers": ["json"], "propagate": False},
        },
        "root": {"handlers": ["json"], "level": root},
    }
