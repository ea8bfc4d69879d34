"""PROTOCOL's own messages (``start``, ``fragment``, ``event``, ``ping``, ``resume``) as JSON text
frames: the stream's default format.

The fragment is the message a connection carries most, so a fragment exactly as PROTOCOL writes
it is checked by hand; anything the hand check does not accept as it stands goes through the
pydantic models, which give every error of PROTOCOL. ``tests/asr/test_protocol.py`` holds the
two paths to the same answers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from app.asr import Decoded, Refused
from app.calls.schemas import (
    CLIENT_MESSAGE,
    JSON_INT_MAX,
    MESSAGE_TYPES,
    EventMessage,
    FragmentMessage,
    Limits,
    StartMessage,
    describe,
    text_too_long,
)
from app.config import Settings
from app.engine.messages import Fragment, Input
from app.errors import InvalidMessage

_SPEAKERS = ("agent", "customer")
_VOLUMES = (None, "low", "high")


def _offset(value: Any) -> bool:
    return value is None or (type(value) is int and 0 <= value <= JSON_INT_MAX)


def json_object(frame: Mapping[str, Any], max_bytes: int, fmt: str | None = None) -> dict[str, Any]:
    """The JSON object a text frame carries, or :class:`Refused`. ``fmt``: the ASR format of
    the connection, which every error then names first (None: PROTOCOL's own messages)."""
    at = "" if fmt is None else f"{fmt}: "
    text = frame.get("text")
    if text is None:
        if fmt is None:
            raise Refused("binary_not_supported", "send JSON as text frames, not binary")
        raise Refused("binary_not_supported", f"{at}send the engine's JSON as text frames")
    # A character is at most 4 bytes of UTF-8: only a long text is measured.
    if len(text) * 4 > max_bytes and len(text.encode()) > max_bytes:
        raise Refused("too_large", f"{at}a message is at most {max_bytes} bytes")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise Refused("invalid_json", f"{at}not JSON: {exc}") from None
    if not isinstance(data, dict):
        if fmt is None:
            raise Refused("invalid_message", "a message is a JSON object with a 'type'")
        raise Refused("invalid_message", f"{at}message: must be a JSON object")
    return data


def fast_fragment(data: dict[str, Any], max_chars: int) -> tuple[Fragment, int | None] | None:
    """The fragment and its seq when ``data`` is a fragment exactly as PROTOCOL writes it;
    None for anything else (the pydantic model then accepts it or says what is wrong)."""
    speaker = data.get("speaker")
    segment = data.get("segment")
    text = data.get("text")
    final = data.get("final", False)
    start_ms = data.get("start_ms")
    end_ms = data.get("end_ms")
    volume = data.get("volume")
    seq = data.get("seq")
    if not (
        speaker in _SPEAKERS
        and type(segment) is str
        and 0 < len(segment) <= 128
        and type(text) is str
        and type(final) is bool
        and _offset(start_ms)
        and _offset(end_ms)
        and _offset(seq)
        and volume in _VOLUMES
    ):
        return None
    if len(text) > max_chars:
        raise Refused("too_large", text_too_long(len(text), max_chars))
    return Fragment(speaker, segment, text, final, start_ms, end_ms, volume), seq


class ProtocolDecoder:
    """PROTOCOL's JSON. Keeps no state between frames."""

    __slots__ = ("_max_bytes", "_max_chars", "_limits")

    def __init__(self, settings: Settings) -> None:
        self._max_bytes = settings.max_message_bytes
        self._max_chars = settings.max_text_chars
        self._limits = Limits(settings.max_call_hours, settings.time_window_days)

    def decode(self, frame: Mapping[str, Any]) -> Decoded:
        return self.decode_object(json_object(frame, self._max_bytes))

    def decode_object(self, data: dict[str, Any]) -> Decoded:
        """One message already read from its frame (:func:`json_object`)."""
        kind = data.get("type")
        if kind == "fragment":
            fast = fast_fragment(data, self._max_chars)
            if fast is not None:
                fragment = fast[0]
                if fragment.start_ms is not None or fragment.end_ms is not None:
                    self._in_range(fragment, None)
                return Decoded("fragment", fast[1], None, fragment)
        elif kind is None:
            raise Refused("invalid_message", "type: missing")
        elif kind not in MESSAGE_TYPES:
            known = ", ".join(MESSAGE_TYPES)
            raise Refused("unknown_type", f"unknown type {kind!r}; known: {known}")
        try:
            message = CLIENT_MESSAGE.validate_python(data)
        except ValidationError as exc:
            raise Refused("invalid_message", describe(exc.errors(), str(kind))) from None
        if isinstance(message, FragmentMessage) and len(message.text) > self._max_chars:
            raise Refused("too_large", text_too_long(len(message.text), self._max_chars))
        item = message.to_input() if isinstance(message, (EventMessage, FragmentMessage)) else None
        self._in_range(item, message)
        return Decoded(message.type, message.seq, message, item)

    def _in_range(self, item: Input | None, message: BaseModel | None) -> None:
        """Times and offsets within the settings' ranges (:class:`Limits`)."""
        limits = self._limits
        try:
            if isinstance(item, Fragment):
                limits.fragment("fragment.", item.start_ms, item.end_ms)
            elif isinstance(message, EventMessage):
                limits.instant("event.at", message.at, _now_ms())
            elif isinstance(message, StartMessage):
                limits.instant("start.ring_at", message.ring_at, _now_ms())
        except InvalidMessage as exc:
            raise Refused("invalid_message", exc.detail) from None


def _now_ms() -> int:
    return int(time.time() * 1000)
