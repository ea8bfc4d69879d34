"""Decoders: a client's messages on the call stream, turned into the engine's inputs.

Each stream connection gets its own :class:`Decoder`, chosen by ``?format=`` on the stream URL
(PROTOCOL's JSON when absent). A decoder may keep state between frames (an ASR engine's
increments, its sentence numbering), which is why there is one per connection. An ASR engine's
own format is one new class registered in :data:`DECODERS` — the one place formats are named.

An ASR engine streams one audio channel, so a call takes one connection per leg: ``?speaker=``
names the leg a connection carries (see :class:`Leg`), and ``?offset_ms=`` when that leg's audio
began after the answer.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from pydantic import BaseModel

from app.config import Settings
from app.engine.messages import Input, Speaker


class Refused(Exception):
    """A frame the decoder cannot accept: an ``error`` event with ``code`` and ``detail`` on the
    connection, which stays open."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Decoded(NamedTuple):
    """One client message: its PROTOCOL type, the client's ``seq``, the validated message (None
    for a fragment checked by hand on the fast path) and the engine input it carries, if any.

    An ASR engine's message may carry more than one input (a result per channel, a final and
    the next sentence's start): the first is ``item``, the others ``more``, in order. A message
    that carries nothing for the engine (a handshake, a repeat) has no item and no message."""

    kind: str
    seq: int | None
    message: BaseModel | None
    item: Input | None
    more: tuple[Input, ...] = ()


class Decoder(Protocol):
    def decode(self, frame: Mapping[str, Any]) -> Decoded:
        """The message in one ASGI ``websocket.receive`` frame; raises :class:`Refused`."""
        ...


class Leg(NamedTuple):
    """What the stream URL says about the audio a connection's messages come from.

    ``speaker``: the leg (``?speaker=``), None for PROTOCOL's JSON, whose fragments name their
    own speaker. ``offset_ms``: when the leg's ASR stream began, in ms after the answer
    (``?offset_ms=``, 0: the engines count from the start of their stream, taken to be the
    answer). ``token``: told apart from other connections of the same leg in segment ids, so a
    reconnected engine that numbers its sentences from 0 again opens new segments."""

    speaker: Speaker | None = None
    offset_ms: int = 0
    token: str = ""


SPEAKERS: tuple[Speaker, ...] = ("agent", "customer")
#: A leg's audio starts at most this long after the answer (a day: a bigger offset is a typo).
MAX_OFFSET_MS = 86_400_000

#: ``?format=`` → how to make a connection's decoder. ``huashu`` is PROTOCOL's JSON.
DECODERS: dict[str, Callable[[Settings, Leg], Decoder]] = {}
DEFAULT_FORMAT = "huashu"


def leg_from_query(speaker: str | None, offset_ms: str | None) -> Leg:
    """The :class:`Leg` of ``?speaker=`` and ``?offset_ms=`` as the URL gives them (strings or
    absent), with a fresh connection token. Raises :class:`Refused` (``invalid_query``)."""
    if speaker is not None and speaker not in SPEAKERS:
        raise Refused("invalid_query", f"speaker: must be agent or customer, got {speaker[:20]!r}")
    offset = 0
    if offset_ms is not None:
        if not offset_ms.isdigit() or int(offset_ms) > MAX_OFFSET_MS:
            raise Refused("invalid_query", f"offset_ms: milliseconds from 0 to {MAX_OFFSET_MS}")
        offset = int(offset_ms)
    return Leg(speaker, offset, secrets.token_hex(3))


def decoder_for(name: str | None, settings: Settings, leg: Leg | None = None) -> Decoder:
    """A new decoder for ``?format=name`` (PROTOCOL's when None) reading the audio leg ``leg``.
    Raises :class:`Refused`: ``unknown_format`` naming the formats there are, ``invalid_query``
    for a leg the format cannot take."""
    name = name or DEFAULT_FORMAT
    make = DECODERS.get(name)
    if make is None:
        known = ", ".join(sorted(DECODERS))
        raise Refused("unknown_format", f"unknown format {name[:40]!r}; known: {known}")
    return make(settings, leg or Leg())


def _protocol(settings: Settings, leg: Leg) -> Decoder:
    from app.asr.protocol import ProtocolDecoder

    if leg.speaker is not None or leg.offset_ms:
        # PROTOCOL's fragments name their speaker and carry their own times.
        raise Refused("invalid_query", "speaker, offset_ms: only for ASR formats (?format=)")
    return ProtocolDecoder(settings)


def _register() -> None:
    from app.asr.vendors import VENDORS

    DECODERS[DEFAULT_FORMAT] = _protocol
    DECODERS.update(VENDORS)


_register()
