"""Feeding an ASR engine's recorded messages (tests/data/asr) to its decoder, frame by frame."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from app.asr import Decoder, Leg, Refused, decoder_for
from app.config import Settings
from app.engine.messages import Fragment, Input, Speaker

DATA = Path(__file__).resolve().parents[1] / "data" / "asr"
SETTINGS = Settings()


@cache
def recorded(fmt: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{fmt}.json").read_text(encoding="utf-8"))
    return data


def stream(fmt: str, name: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = recorded(fmt)["streams"][name]["messages"]
    return messages


def decoder(fmt: str, speaker: Speaker | None = "agent", offset_ms: int = 0) -> Decoder:
    return decoder_for(fmt, SETTINGS, Leg(speaker, offset_ms, "t"))


def frame(message: dict[str, Any] | str) -> dict[str, Any]:
    text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    return {"type": "websocket.receive", "text": text}


def feed(dec: Decoder, messages: list[Any]) -> list[Input | Refused]:
    """What each message decodes to, flattened: its inputs, or the refusal."""
    out: list[Input | Refused] = []
    for message in messages:
        try:
            decoded = dec.decode(frame(message))
        except Refused as refused:
            out.append(refused)
            continue
        if decoded.item is not None:
            out.append(decoded.item)
        out.extend(decoded.more)
    return out


def brief(items: list[Input | Refused]) -> list[tuple[Any, ...]]:
    """(segment, text, final, start_ms, end_ms) per fragment; (code, detail) per refusal."""
    out: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, Fragment):
            out.append((item.segment, item.text, item.final, item.start_ms, item.end_ms))
        elif isinstance(item, Refused):
            out.append((item.code, item.detail))
        else:
            out.append((item,))
    return out
