"""JSON log lines (app/ops/logs.py): fields, call ids, secrets redacted."""

from __future__ import annotations

import json
import logging

import pytest

from app.ops.logs import JsonFormatter, log_config, redact


def line(msg: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_a_line_is_one_json_object_with_its_fields() -> None:
    parsed = line("stream opened", call_id="c-1", format="vosk", speaker="agent")
    assert parsed["msg"] == "stream opened" and parsed["level"] == "info"
    assert (parsed["call_id"], parsed["format"], parsed["speaker"]) == ("c-1", "vosk", "agent")
    assert str(parsed["ts"]).endswith("+00:00")


@pytest.mark.parametrize(
    ("msg", "args", "call_id"),
    [
        (
            '%s - "%s %s HTTP/%s" %d',
            ("1.2.3.4:5", "GET", "/v1/calls/c-9/report", "1.1", 200),
            "c-9",
        ),
        ('%s - "WebSocket %s" [accepted]', ("1.2.3.4:5", "/v1/calls/c-7/stream?token=k"), "c-7"),
        ("call %s: a timer tick failed", ("c-3",), "c-3"),
        ("Application startup complete.", (), None),
    ],
)
def test_the_call_id_is_found(msg: str, args: tuple[object, ...], call_id: str | None) -> None:
    assert line(msg, *args).get("call_id") == call_id


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        (
            "/v1/calls/c/stream?token=abc&format=vosk",
            "/v1/calls/c/stream?token=[redacted]&format=vosk",
        ),
        ('"GET /metrics?key=s3cret HTTP/1.1"', '"GET /metrics?key=[redacted] HTTP/1.1"'),
        ("/x?format=vosk&TOKEN=abc", "/x?format=vosk&TOKEN=[redacted]"),
        ("no secrets here", "no secrets here"),
    ],
)
def test_query_secrets_are_never_written(text: str, clean: str) -> None:
    assert redact(text) == clean
    assert "abc" not in json.dumps(line("%s", text)) and "s3cret" not in json.dumps(
        line("%s", text)
    )


def test_an_exception_is_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        record.exc_info = sys.exc_info()
    parsed = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in parsed["exc"] and "\n" not in JsonFormatter().format(record)


@pytest.mark.parametrize("level", ["critical", "error", "warning", "info", "debug", "trace"])
def test_the_config_takes_every_serve_level(level: str) -> None:
    config = log_config(level)
    logging.getLevelName(config["root"]["level"])  # a level the standard library knows
    assert config["formatters"]["json"]["()"] == "app.ops.logs.JsonFormatter"
