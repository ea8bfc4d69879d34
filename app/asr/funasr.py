"""FunASR's websocket runtime (modelscope/FunASR, ``runtime/docs/websocket_protocol.md``), in
``2pass`` mode: ``?format=funasr``.

- A ``2pass-online`` message carries only the characters decoded from the latest audio chunk:
  an **increment**, which the official clients append (``funasr_wss_client.py``,
  ``text_print_2pass_online += text``). The adapter keeps the sentence so far and sends it whole.
- A ``2pass-offline`` message is the sentence decoded again by the offline model, punctuated:
  it **replaces** the online pieces and is the sentence's final.
- ``is_final`` is **not** a sentence end (the C++ server sets it only on the flush after the
  client's ``is_speaking: false``; the Python 1.x server sends the client's ``is_speaking``):
  it is ignored; ``mode`` decides.
- The realtime punctuation model writes a sentence's closing mark at the start of the next
  one (``，谁知盘中餐``): leading punctuation of an offline text is dropped.
- Sentence numbers: the C++ server since June 2026 sends ``index`` (and ``slice_type`` 0 on a
  sentence's first online piece); older servers send none, and each offline message ends one.
- Times: the C++ server's ``start_time``/``end_time`` on offline messages (ms from the start of
  the stream), else the first and last ``stamp_sents`` entries with a time. ``timestamp``
  changes type between versions (a string of pairs, a list, the connection's epoch ms) and the
  Python server's are relative to the segment: it is not read.
- ``online`` mode has no sentence ends at all (before ``index``): its pieces accumulate into
  one segment, closed when the next piece would take it past the text limit. ``offline`` mode
  sends one final per utterance.
"""

from __future__ import annotations

from typing import Any

from app.asr.adapter import Adapter, Unreadable, integer, string
from app.engine.messages import Fragment

#: Marks the realtime punctuation model puts at the start of the next sentence.
LEADING_MARKS = "，。？！、；：,.?!;: \u3000"
ONLINE = ("2pass-online", "online")
OFFLINE = ("2pass-offline", "offline")


class FunasrDecoder(Adapter):
    format = "funasr"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        #: The online pieces of the open sentence, joined.
        self._online = ""
        #: Sentences ended so far (the key of the next one, when the server numbers none).
        self._count = 0

    def read(self, data: dict[str, Any]) -> list[Fragment]:
        mode = data.get("mode")
        text = string(data, "text")
        if mode is None:
            if text:
                raise Unreadable("mode", "missing")
            return []  # the C++ server's flush after is_speaking false: no mode, no text
        if not isinstance(mode, str):
            raise Unreadable("mode", "must be a string")
        index = data.get("index")
        if index is not None:
            index = integer(data, "index")
        key = str(self._count if index is None else index)
        segments = self.segments()
        if mode in ONLINE:
            if data.get("slice_type") == 0 or (index is not None and key != segments.open_key):
                self._online = ""  # the server says a new sentence begins
            out: list[Fragment] = []
            if index is None and len(self._online) + len(text) > self._max_chars:
                # No sentence end for that long (online mode has none): close what would
                # outgrow a fragment and go on in a new segment.
                closed = segments.fragment(key, self._online, True)
                if closed is not None:
                    out.append(closed)
                self._count += 1
                key = str(self._count)
                self._online = ""
            self._online += text
            fragment = segments.fragment(key, self._online, False, None, None, index)
            if fragment is not None:
                out.append(fragment)
            return out
        if mode in OFFLINE:
            start_ms, end_ms = _times(data)
            self._online = ""
            if index is None:
                self._count += 1
            final = text.lstrip(LEADING_MARKS)
            fragment = segments.fragment(key, final, True, start_ms, end_ms, index)
            return [fragment] if fragment is not None else []
        raise Unreadable(
            "mode", f"unknown mode {mode[:40]!r}; known: {', '.join(ONLINE + OFFLINE)}"
        )


def _times(data: dict[str, Any]) -> tuple[int | None, int | None]:
    """A sentence's start and end, ms from the start of the stream, where the server says."""
    if data.get("start_time") is not None or data.get("end_time") is not None:
        return integer(data, "start_time"), integer(data, "end_time")
    stamps = data.get("stamp_sents")
    if stamps is None or stamps == "" or stamps == []:
        return None, None  # absent, or "" when the server could not parse its own stamps
    if not isinstance(stamps, list):
        raise Unreadable("stamp_sents", "must be an array")
    timed = []
    for n, stamp in enumerate(stamps):
        if not isinstance(stamp, dict):
            raise Unreadable(f"stamp_sents[{n}]", "must be an object")
        start = stamp.get("start")
        end = stamp.get("end")
        if type(start) is not int or type(end) is not int:
            raise Unreadable(f"stamp_sents[{n}].start", "start and end must be integers (ms)")
        if start >= 0 and end >= start:  # the dummy entry of a moved mark has start -1
            timed.append((start, end))
    if not timed:
        return None, None
    return timed[0][0], timed[-1][1]
