"""Vosk server (alphacep/vosk-server ``websocket/asr_server.py``, messages made by alphacep/vosk-api
``src/recognizer.cc``): ``?format=vosk``.

- The server answers every audio chunk once: ``{"partial": …}`` is the current utterance's
  hypothesis, **cumulative** and revisable; ``{"text": …}`` (with ``result``, the words, when
  word times are on; or ``alternatives`` when ``max_alternatives`` is set) is its final. After a
  final, ``partial`` is ``""`` again; identical partials repeat for every chunk (sent once).
- No utterance ids: the adapter numbers utterances, one more after each final.
- Times are **seconds** from the start of the stream, on words only: a final's start and end
  are its first word's ``start`` and last word's ``end`` (a partial's too, with
  ``partial_result`` when partial words are on).
- The same final is sometimes sent twice (vosk-server #40): a final with the same words and
  times as the one before, with no partial in between, is the same utterance, sent once.
- Chinese models separate words with spaces (vosk-api #1421): dropped between CJK characters.
- The end of stream answer can be ``{"text": ""}``: nothing.
"""

from __future__ import annotations

from typing import Any

from app.asr.adapter import Adapter, Unreadable, array, join_cjk, seconds_ms, string
from app.engine.messages import Fragment


class VoskDecoder(Adapter):
    format = "vosk"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._count = 0
        #: The last final (text, start, end), until a partial with words comes after it.
        self._last_final: tuple[str, int | None, int | None] | None = None

    def read(self, data: dict[str, Any]) -> list[Fragment]:
        segments = self.segments()
        if "partial" in data:
            text = join_cjk(string(data, "partial").strip())
            start, end = _span(data, "partial_result", "")
            if text:
                self._last_final = None
            fragment = segments.fragment(str(self._count), text, False, start, end)
            return [fragment] if fragment is not None else []
        if "alternatives" in data:
            alternatives = array(data, "alternatives")
            if not alternatives:
                raise Unreadable("alternatives", "must not be empty")
            best = alternatives[0]
            if not isinstance(best, dict):
                raise Unreadable("alternatives[0]", "must be an object")
            text = string(best, "text", "alternatives[0].")
            start, end = _span(best, "result", "alternatives[0].")
        elif "text" in data:
            text = string(data, "text")
            start, end = _span(data, "result", "")
        else:
            raise Unreadable("partial", "missing: a Vosk message has partial, text or alternatives")
        text = join_cjk(text.strip())
        heard = (text, start, end)
        if heard == self._last_final:
            return []  # the same final again (vosk-server #40)
        self._last_final = heard
        fragment = segments.fragment(str(self._count), text, True, start, end)
        self._count += 1
        return [fragment] if fragment is not None else []


def _span(data: dict[str, Any], key: str, path: str) -> tuple[int | None, int | None]:
    """The first word's start and the last word's end, in ms, when the words are there."""
    if data.get(key) is None:
        return None, None
    words = array(data, key, path)
    if not words:
        return None, None
    for n, word in enumerate(words):
        if not isinstance(word, dict):
            raise Unreadable(f"{path}{key}[{n}]", "must be an object")
    start = seconds_ms(words[0], "start", f"{path}{key}[0].")
    end = seconds_ms(words[-1], "end", f"{path}{key}[{len(words) - 1}].")
    return start, end
