"""Decoders: a client's messages on the call stream, turned into the engine's inputs.

Each stream connection gets its own :class:`Decoder`, chosen by ``?format=`` on the stream URL
(PROTOCOL's JSON when absent). A decoder may keep state between frames (an ASR engine's
increments, its sentence numbering), which is why there is one per connection. An ASR engine's
own format is one new class registered in :data:`DECODERS` — the one place formats are named.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from pydantic import BaseModel

from app.config import Settings
from app.engine.messages import Input


class Refused(Exception):
    """A frame the decoder cannot accept: an ``error`` event with ``code`` and ``detail`` on the
    connection, which stays open."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Decoded(NamedTuple):
    """One client message: its PROTOCOL type, the client's ``seq``, the validated message (None
    for a fragment checked by hand on the fast path) and the engine input it carries, if any."""

    kind: str
    seq: int | None
    message: BaseModel | None
    item: Input | None


class Decoder(Protocol):
    def decode(self, frame: Mapping[str, Any]) -> Decoded:
        """The message in one ASGI ``websocket.receive`` frame; raises :class:`Refused`."""
        ...


#: ``?format=`` → how to make a connection's decoder. ``huashu`` is PROTOCOL's JSON.
DECODERS: dict[str, Callable[[Settings], Decoder]] = {}
DEFAULT_FORMAT = "huashu"


def decoder_for(name: str | None, settings: Settings) -> Decoder:
    """A new decoder for ``?format=name`` (PROTOCOL's when None). Raises :class:`Refused`
    (``unknown_format``) naming the formats there are."""
    name = name or DEFAULT_FORMAT
    make = DECODERS.get(name)
    if make is None:
        known = ", ".join(sorted(DECODERS))
        raise Refused("unknown_format", f"unknown format {name[:40]!r}; known: {known}")
    return make(settings)


def _register() -> None:
    from app.asr.protocol import ProtocolDecoder

    DECODERS[DEFAULT_FORMAT] = ProtocolDecoder


_register()
