"""Alibaba Cloud NLS real-time transcription (``SpeechTranscriber``; event names as handled by
aliyun/alibabacloud-nls-python-sdk ``nls/speech_transcriber.py``, fields as read by
aliyun/alibabacloud-nls-cpp-sdk ``nlsCppSdk/framework/common/nlsEvent.h``): ``?format=aliyun``.

- ``header.name`` says what a message is: ``SentenceBegin``, ``TranscriptionResultChanged``
  (a partial; only sent with ``enable_intermediate_result``), ``SentenceEnd`` (the final);
  ``TranscriptionStarted`` and ``TranscriptionCompleted`` carry no words; ``TaskFailed`` (or
  any ``header.status`` other than 20000000) is the engine's failure.
- ``payload.result`` is the sentence's whole hypothesis (cumulative); ``payload.index``
  numbers the sentences of a task from 1.
- ``payload.time`` is the audio processed so far, ms from the start of the task: the
  sentence's end so far; ``SentenceBegin``'s ``time`` and ``SentenceEnd``'s ``begin_time`` its
  start.
- ``stash_result`` is the text already recognized of the **next** sentence: never appended
  (it would be said twice once that sentence arrives); the next sentence's own messages bring it.
- ``index`` starts again with each task (``header.task_id``): a new task on the connection
  opens a new series of segments.
"""

from __future__ import annotations

from typing import Any

from app.asr.adapter import Adapter, EngineFailed, Unreadable, integer, obj, string
from app.engine.messages import Fragment

#: ``header.status`` of a message that reports no failure.
OK = 20_000_000
NO_WORDS = ("TranscriptionStarted", "TranscriptionCompleted")
NAMES = ("SentenceBegin", "TranscriptionResultChanged", "SentenceEnd", *NO_WORDS, "TaskFailed")


class AliyunDecoder(Adapter):
    format = "aliyun"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._task: str | None = None
        #: Tasks seen on this connection, less one: in segment keys from the second on.
        self._tasks = 0
        #: Each open sentence's start (its SentenceBegin ``time``), by index.
        self._begun: dict[int, int] = {}

    def read(self, data: dict[str, Any]) -> list[Fragment]:
        header = obj(data, "header")
        name = string(header, "name", "header.")
        status = header.get("status", OK)
        if type(status) is not int:
            raise Unreadable("header.status", "must be an integer")
        if name == "TaskFailed" or status != OK:
            text = header.get("status_text", "")
            raise EngineFailed("header.status", f"{status} {name}: {str(text)[:200]}")
        if name in NO_WORDS:
            return []
        if name not in NAMES:
            raise Unreadable("header.name", f"unknown event {name[:40]!r}")
        task = header.get("task_id")
        if isinstance(task, str) and task != self._task:
            if self._task is not None:
                self._tasks += 1
                self._begun.clear()
                self.segments().new_session()
            self._task = task
        payload = obj(data, "payload")
        index = integer(payload, "index", "payload.")
        time = integer(payload, "time", "payload.")
        if name == "SentenceBegin":
            self._begun[index] = time
            return []
        result = string(payload, "result", "payload.")
        key = str(index) if not self._tasks else f"{self._tasks}.{index}"
        if name == "TranscriptionResultChanged":
            start = self._begun.get(index)
            fragment = self.segments().fragment(key, result, False, start, time, index)
        else:  # SentenceEnd
            begin = payload.get("begin_time")
            start = integer(payload, "begin_time", "payload.") if begin is not None else None
            if start is None:
                start = self._begun.get(index)
            self._begun.pop(index, None)
            fragment = self.segments().fragment(key, result, True, start, time, index)
        return [fragment] if fragment is not None else []
