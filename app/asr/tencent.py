"""Tencent Cloud real-time ASR, websocket API 2.0 (doc:
cloud.tencent.com/document/product/1093/48982; SDKs: TencentCloud/tencentcloud-speech-sdk-go
``asr/speechrecognizer.go``,
TencentCloud/tencentcloud-speech-sdk-python ``asr/speech_recognizer.py``): ``?format=tencent``.

- ``code`` other than 0 is the engine's failure (then it disconnects); ``final: 1`` ends the
  stream; the handshake (``{"code":0,"message":"success","voice_id":…}``) has no ``result``
  and carries nothing — a naive reader takes it for sentence 0 starting.
- ``result.slice_type``: 0 a sentence begins, 1 in progress, 2 ended (its final). The doc lists
  the sequences **0-1-2, 0-2 and a lone 2**; as the Go SDK does, a new ``index`` or a 0 begins a
  sentence, and a repeated 2 for the same index counts once.
- ``result.voice_text_str`` is the sentence's whole hypothesis; ``result.index`` numbers the
  sentences from 0; ``start_time``/``end_time`` are ms in the whole audio stream.
- ``voice_id`` is new for every connection to the engine: a new one opens a new series.
"""

from __future__ import annotations

from typing import Any

from app.asr.adapter import Adapter, EngineFailed, Unreadable, integer, obj, string
from app.engine.messages import Fragment


class TencentDecoder(Adapter):
    format = "tencent"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._voice: str | None = None
        self._voices = 0

    def read(self, data: dict[str, Any]) -> list[Fragment]:
        code = data.get("code")
        if type(code) is not int:
            raise Unreadable("code", "missing" if code is None else "must be an integer")
        if code != 0:
            raise EngineFailed("code", f"{code} {str(data.get('message', ''))[:200]}")
        if data.get("final") == 1 or data.get("result") is None:
            return []  # the end of the stream, or the handshake
        voice = data.get("voice_id")
        if isinstance(voice, str) and voice != self._voice:
            if self._voice is not None:
                self._voices += 1
                self.segments().new_session()
            self._voice = voice
        result = obj(data, "result")
        slice_type = result.get("slice_type")
        if slice_type not in (0, 1, 2) or type(slice_type) is not int:
            raise Unreadable("result.slice_type", "must be 0, 1 or 2")
        index = integer(result, "index", "result.")
        text = string(result, "voice_text_str", "result.")
        start = integer(result, "start_time", "result.")
        end = integer(result, "end_time", "result.")
        key = str(index) if not self._voices else f"{self._voices}.{index}"
        fragment = self.segments().fragment(key, text, slice_type == 2, start, end, index)
        return [fragment] if fragment is not None else []
