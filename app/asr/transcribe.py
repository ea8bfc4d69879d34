"""Amazon Transcribe streaming: a ``TranscriptEvent``'s JSON payload (as parsed by
awslabs/amazon-transcribe-streaming-sdk ``amazon_transcribe/deserialize.py``), one per frame:
``?format=transcribe``.

- ``Transcript.Results[]``: each result is one segment, ``ResultId`` its id; ``IsPartial``
  false is its final. ``Alternatives[0].Transcript`` is the segment's whole hypothesis
  (partials are cumulative). An event may carry several results (a final and the next
  segment's first partial, or one per channel): each becomes a fragment, in order.
- ``StartTime``/``EndTime`` are **seconds** from the start of the stream.
- ``ChannelId`` (``ch_0``/``ch_1``) comes with channel identification, where one stream carries
  both legs of a stereo call. Such a connection names no ``?speaker=``: ``ch_0`` is the
  customer and ``ch_1`` the agent (the channel order of AWS's Live Call Analytics). A
  connection with ``?speaker=`` carries that leg only, whatever channel it is.
- An exception event's payload (``{"Message": …}``) is the engine's failure.
"""

from __future__ import annotations

from typing import Any

from app.asr.adapter import (
    Adapter,
    EngineFailed,
    Unreadable,
    array,
    field,
    obj,
    seconds_ms,
    string,
)
from app.engine.messages import Fragment, Speaker

#: Which leg each channel of a dual-channel stream carries.
CHANNELS: dict[str, Speaker] = {"ch_0": "customer", "ch_1": "agent"}


class TranscribeDecoder(Adapter):
    format = "transcribe"
    needs_speaker = False

    def read(self, data: dict[str, Any]) -> list[Fragment]:
        if "Transcript" not in data and isinstance(data.get("Message"), str):
            raise EngineFailed("Message", data["Message"][:200])
        results = array(obj(data, "Transcript"), "Results", "Transcript.")
        out: list[Fragment] = []
        for n, result in enumerate(results):
            path = f"Transcript.Results[{n}]."
            if not isinstance(result, dict):
                raise Unreadable(path[:-1], "must be an object")
            key = string(result, "ResultId", path)
            if not key or len(key) > 100:
                raise Unreadable(path + "ResultId", "must be 1 to 100 characters")
            partial = field(result, "IsPartial", path)
            if type(partial) is not bool:
                raise Unreadable(path + "IsPartial", "must be true or false")
            alternatives = array(result, "Alternatives", path)
            if not alternatives or not isinstance(alternatives[0], dict):
                raise Unreadable(path + "Alternatives", "must hold an alternative")
            text = string(alternatives[0], "Transcript", path + "Alternatives[0].")
            start = seconds_ms(result, "StartTime", path)
            end = seconds_ms(result, "EndTime", path)
            speaker = self.leg.speaker or self._channel(result, path)
            fragment = self.segments(speaker).fragment(key, text, not partial, start, end)
            if fragment is not None:
                out.append(fragment)
        return out

    def _channel(self, result: dict[str, Any], path: str) -> Speaker:
        channel = result.get("ChannelId")
        if channel is None:
            raise Unreadable(
                path + "ChannelId", "missing (a stream without ?speaker= carries both channels)"
            )
        speaker = CHANNELS.get(channel) if isinstance(channel, str) else None
        if speaker is None:
            raise Unreadable(path + "ChannelId", "must be ch_0 (customer) or ch_1 (agent)")
        return speaker
