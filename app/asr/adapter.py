"""What every ASR engine's adapter shares.

An adapter reads one engine's messages, as the engine sends them for one audio stream, and
hands the engine PROTOCOL's cumulative-segment fragments:

- **segment ids** are ``<speaker>-<connection>-<n>``: scoped by leg (the engine keys closed
  segments by id alone) and by connection (an engine that reconnects numbers its sentences from
  0 again); ``n`` is the engine's sentence number where it has one, else the adapter's count;
- **times** are ms after the answer: the engine's ms (or seconds) from the start of its stream,
  plus the leg's ``?offset_ms=``. Without one, the stream is taken to have begun at the answer;
- **never a partial after its segment's final**; a repeated final counts once, an unchanged
  partial once; an empty hypothesis opens no segment;
- a message the adapter cannot read is refused (``invalid_message``) naming the format and the
  field, and a failure the engine reports in its own message is ``asr_error``; either way the
  connection stays open and nothing accepted is touched.

PROTOCOL's own control messages (``start``, ``event``, ``ping``, ``resume``: a JSON object with
a ``type``) pass through on an adapter's connection too; none of the engines' messages has a
top-level ``type``. Fragments come only from the engine's messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from app.asr import Decoded, Leg, Refused
from app.asr.protocol import ProtocolDecoder, json_object
from app.config import Settings
from app.engine.messages import Fragment, Speaker

#: What an engine's message that carries nothing for the call decodes to.
NOTHING = Decoded("asr", None, None, None)


class Unreadable(Exception):
    """A field of the engine's message is missing or not what the engine documents."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class EngineFailed(Exception):
    """The engine's message reports a failure of its own (a timeout, an auth error …)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class Segments:
    """One leg's segments on one connection: which is open, which are closed, what was last
    sent. Engines differ in how they number and revise sentences; this is where the rules of
    the module docstring are kept, once for all of them."""

    __slots__ = (
        "speaker",
        "_format",
        "_prefix",
        "_offset",
        "_max_chars",
        "_open",
        "_text",
        "_seen",
        "_high",
    )

    def __init__(self, fmt: str, speaker: Speaker, leg: Leg, max_chars: int) -> None:
        self.speaker = speaker
        self._format = fmt
        self._prefix = f"{speaker}-{leg.token}-" if leg.token else f"{speaker}-"
        self._offset = leg.offset_ms
        self._max_chars = max_chars
        self._open: str | None = None
        #: The text last sent for the open segment (None: nothing sent yet).
        self._text: str | None = None
        #: Every key opened or closed: a key seen that is not the open one is closed (final, or
        #: superseded by a later segment, which the engine finalizes with its last words).
        self._seen: set[str] = set()
        #: The highest sentence number seen in this engine session.
        self._high: int | None = None

    def new_session(self) -> None:
        """The engine started a new session on this connection (a new task or voice id): its
        sentence numbers start again; the keys the reader makes must tell the sessions apart."""
        self._high = None

    def fragment(
        self,
        key: str,
        text: str,
        final: bool,
        start_ms: int | None = None,
        end_ms: int | None = None,
        number: int | None = None,
    ) -> Fragment | None:
        """The fragment for the engine's hypothesis ``text`` of its sentence ``key`` (numbered
        ``number`` where the engine numbers its sentences), times in the engine's ms; None when
        it tells the call nothing new (see the module docstring)."""
        if len(text) > self._max_chars:
            raise Refused(
                "too_large",
                f"{self._format}: text: at most {self._max_chars} characters, got {len(text)}",
            )
        if key != self._open:
            if key in self._seen:
                return None
            if number is not None and self._high is not None and number < self._high:
                return None  # older than a sentence already under way: out of order
            if not text:
                if final:
                    self._seen.add(key)  # an empty sentence: nothing later reopens it
                return None
            self._seen.add(key)
            self._open = key
            self._text = None
            if number is not None:
                self._high = number
        elif not final and text == self._text:
            return None
        if final:
            self._open = None
            self._text = None
        else:
            self._text = text
        offset = self._offset
        return Fragment(
            self.speaker,
            self._prefix + key,
            text,
            final,
            None if start_ms is None else start_ms + offset,
            None if end_ms is None else end_ms + offset,
        )

    @property
    def open_key(self) -> str | None:
        return self._open


class Adapter:
    """Base of an ASR engine's decoder: a subclass names its ``format`` and implements
    :meth:`read`, which turns one parsed message into fragments through :meth:`segments`."""

    #: ``?format=`` of the engine.
    format: ClassVar[str]
    #: Whether a connection must name its leg: engines that carry one channel per stream.
    needs_speaker: ClassVar[bool] = True

    def __init__(self, settings: Settings, leg: Leg) -> None:
        if leg.speaker is None and self.needs_speaker:
            raise Refused(
                "invalid_query",
                f"speaker: a {self.format} stream carries one leg: "
                "?speaker=agent or ?speaker=customer",
            )
        self.leg = leg
        self._protocol = ProtocolDecoder(settings)
        self._max_bytes = settings.max_message_bytes
        self._max_chars = settings.max_text_chars
        self._segments: dict[Speaker, Segments] = {}

    def segments(self, speaker: Speaker | None = None) -> Segments:
        """The segments of ``speaker``'s leg (the connection's own leg by default)."""
        speaker = speaker or self.leg.speaker
        assert speaker is not None
        segments = self._segments.get(speaker)
        if segments is None:
            segments = Segments(self.format, speaker, self.leg, self._max_chars)
            self._segments[speaker] = segments
        return segments

    def decode(self, frame: Mapping[str, Any]) -> Decoded:
        fmt = self.format
        data = json_object(frame, self._max_bytes, fmt)
        if "type" in data:
            if data["type"] == "fragment":
                raise Refused(
                    "invalid_message",
                    f"{fmt}: type: fragments come from the engine's messages on this connection",
                )
            return self._protocol.decode_object(data)
        try:
            items = self.read(data)
        except Unreadable as exc:
            raise Refused("invalid_message", f"{fmt}: {exc.field}: {exc.reason}") from None
        except EngineFailed as exc:
            raise Refused("asr_error", f"{fmt}: {exc.field}: {exc.detail}") from None
        if not items:
            return NOTHING
        return Decoded("fragment", None, None, items[0], tuple(items[1:]))

    def read(self, data: dict[str, Any]) -> list[Fragment]:
        """The fragments one engine message carries, in order. Raises :class:`Unreadable` or
        :class:`EngineFailed`."""
        raise NotImplementedError


# -- reading fields --------------------------------------------------------------------------
# Each names the field by its path in the engine's message, as the error detail shows it.


def field(data: Mapping[str, Any], key: str, path: str = "") -> Any:
    if key not in data:
        raise Unreadable(path + key, "missing")
    return data[key]


def string(data: Mapping[str, Any], key: str, path: str = "") -> str:
    value = field(data, key, path)
    if not isinstance(value, str):
        raise Unreadable(path + key, "must be a string")
    return value


def obj(data: Mapping[str, Any], key: str, path: str = "") -> dict[str, Any]:
    value = field(data, key, path)
    if not isinstance(value, dict):
        raise Unreadable(path + key, "must be an object")
    return value


def array(data: Mapping[str, Any], key: str, path: str = "") -> list[Any]:
    value = field(data, key, path)
    if not isinstance(value, list):
        raise Unreadable(path + key, "must be an array")
    return value


def integer(data: Mapping[str, Any], key: str, path: str = "", minimum: int = 0) -> int:
    value = field(data, key, path)
    if type(value) is not int or value < minimum:
        raise Unreadable(path + key, f"must be an integer ≥ {minimum}")
    return value


def optional_integer(data: Mapping[str, Any], key: str, path: str = "") -> int | None:
    return integer(data, key, path) if data.get(key) is not None else None


def seconds_ms(data: Mapping[str, Any], key: str, path: str = "") -> int | None:
    """An optional time in seconds (a JSON number ≥ 0), as ms."""
    value = data.get(key)
    if value is None:
        return None
    if type(value) not in (int, float) or value < 0 or value != value or value > 1e7:
        raise Unreadable(path + key, "must be seconds, a number ≥ 0")
    ms: int = round(value * 1000)
    return ms


#: Characters the engines write between CJK words (Vosk's Chinese models separate words with
#: spaces; matching ignores them, but spans should point into the words as said).
_CJK = ("\u3400", "\u9fff")


def _is_cjk(ch: str) -> bool:
    return _CJK[0] <= ch <= _CJK[1] or "\uf900" <= ch <= "\ufaff"


def join_cjk(text: str) -> str:
    """``text`` without the spaces between two CJK characters (``中国 移动`` → ``中国移动``);
    spaces between Latin words stay."""
    if " " not in text:
        return text
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch == " ":
            before = out[-1] if out else ""
            j = i + 1
            while j < n and text[j] == " ":
                j += 1
            after = text[j] if j < n else ""
            if not before or not after or (_is_cjk(before) and _is_cjk(after)):
                continue
            if out and out[-1] == " ":
                continue
        out.append(ch)
    return "".join(out)
