"""``huashu serve`` logs JSON lines with the call id, and neither what the customer said nor
the secret in the stream URL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.asr.engines import stream
from tests.e2e.client import CallClient
from tests.e2e.conftest import KEY_A, Server

START = {
    "type": "start",
    "script": "cmcc-10086",
    "call_type": "consult",
    "agent": {"id": "A1"},
    "ring_at": "2026-11-22T10:00:00+08:00",
}


def test_json_lines_with_the_call_id_and_no_words_or_secrets(tmp_path: Path) -> None:
    server = Server(tmp_path / "server.log")
    try:
        server.wait_ready()
        with CallClient(server.base, "logged-1", f"{KEY_A}&format=tencent&speaker=customer") as leg:
            leg.send(START)
            leg.send({"type": "event", "name": "answered", "at": "2026-11-22T10:00:03+08:00"})
            for message in stream("tencent", "customer_call"):
                leg.send(message)
            leg.send({"code": 0, "result": "我的身份证号是三七零一"})  # refused: words in an error
            leg.sync()
    finally:
        server.stop()
    lines = [json.loads(raw) for raw in server.log.splitlines() if raw.startswith("{")]
    text = server.log
    assert lines and all({"ts", "level", "logger", "msg"} <= set(entry) for entry in lines)
    stray = [raw for raw in text.splitlines() if raw.strip() and not raw.startswith("{")]
    assert stray == [], stray  # every line is JSON
    about = [e for e in lines if e.get("call_id") == "logged-1"]
    assert {"stream opened", "stream closed"} <= {e["msg"] for e in about}
    assert any("WebSocket" in e["msg"] for e in about)  # uvicorn's own line, its call found
    for words in ("我想查一下这个月的话费", "身份证", "查一下"):
        assert words not in text
    assert KEY_A not in text and "token=[redacted]" in text
