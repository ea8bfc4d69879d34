"""iFlytek real-time transcription, ``rtasr`` (doc: www.xfyun.cn/doc/asr/rtasr/API.html):
``?format=iflytek``.

- ``action``: ``started`` (the handshake), ``result``, ``error`` (the engine's failure, with
  ``code`` and ``desc``); ``code`` is a string, ``"0"`` when all is well.
- ``data`` is **a JSON string inside the JSON** and is parsed a second time (an object there,
  as some relays forward it, is read as it is).
- ``data.cn.st.type``: ``"1"`` an intermediate hypothesis, ``"0"`` the final; the words are
  ``rt[].ws[].cw[0].w`` joined (``wp`` ``n`` a word, ``s`` a filler, ``p`` punctuation). An
  intermediate carries the whole sentence so far (cumulative).
- ``bg``/``ed`` are strings of ms from the start of the stream; ``ed`` is ``"0"`` on an
  intermediate (not an end). ``wb``/``we`` count 10 ms frames from ``bg`` (not read).
- ``seg_id`` counts messages, not sentences: a sentence ends at its final, and the next one
  begins after it, numbered by the adapter.
- A translation result (``biz: trans``) carries no new words.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.asr.adapter import Adapter, EngineFailed, Unreadable, array, obj, string
from app.engine.messages import Fragment


class IflytekDecoder(Adapter):
    format = "iflytek"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._count = 0
        self._sid: str | None = None

    def read(self, data: dict[str, Any]) -> list[Fragment]:
        action = string(data, "action")
        code = data.get("code", "0")
        if action == "error" or str(code) != "0":
            raise EngineFailed("code", f"{code} {str(data.get('desc', ''))[:200]}")
        if action == "started":
            return []
        if action != "result":
            raise Unreadable("action", f"unknown action {action[:40]!r}")
        sid = data.get("sid")
        if isinstance(sid, str) and sid != self._sid:
            if self._sid is not None:
                self.segments().new_session()
            self._sid = sid
        raw = field_data(data)
        if raw.get("biz") == "trans":
            return []
        st = obj(obj(raw, "cn", "data."), "st", "data.cn.")
        kind = string(st, "type", "data.cn.st.")
        if kind not in ("0", "1"):
            raise Unreadable("data.cn.st.type", 'must be "0" (final) or "1" (intermediate)')
        start = _ms(st, "bg")
        end = _ms(st, "ed") if kind == "0" else None
        words: list[str] = []
        for i, rt in enumerate(array(st, "rt", "data.cn.st.")):
            path = f"data.cn.st.rt[{i}]."
            if not isinstance(rt, dict):
                raise Unreadable(path[:-1], "must be an object")
            for j, ws in enumerate(array(rt, "ws", path)):
                where = f"{path}ws[{j}]."
                if not isinstance(ws, dict):
                    raise Unreadable(where[:-1], "must be an object")
                cw = array(ws, "cw", where)
                if not cw or not isinstance(cw[0], dict):
                    raise Unreadable(f"{where}cw", "must hold a candidate word")
                words.append(string(cw[0], "w", f"{where}cw[0]."))
        final = kind == "0"
        fragment = self.segments().fragment(str(self._count), "".join(words), final, start, end)
        if final:
            self._count += 1
        return [fragment] if fragment is not None else []


def field_data(data: dict[str, Any]) -> dict[str, Any]:
    """``data``, parsed: a JSON string (as the engine sends it) or an object."""
    raw = data.get("data")
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Unreadable("data", f"not JSON: {exc}") from None
    if raw is None:
        raise Unreadable("data", "missing")
    if not isinstance(raw, dict):
        raise Unreadable("data", "must be a JSON object (as a string)")
    return raw


def _ms(st: dict[str, Any], key: str) -> int:
    value = st.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise Unreadable(f"data.cn.st.{key}", "must be milliseconds, as a string of digits")
    return int(value)
