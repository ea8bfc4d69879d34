"""The hand-checked fragment path of PROTOCOL's decoder gives exactly what the pydantic models give:
the same engine input for every fragment it accepts, and it steps aside (the models decide,
with PROTOCOL's errors) for anything else."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from app.asr import Decoded, Refused
from app.asr.protocol import ProtocolDecoder, fast_fragment
from app.calls.schemas import CLIENT_MESSAGE, FragmentMessage
from app.config import Settings

SETTINGS = Settings()


def _decode(frame: dict[str, Any], settings: Settings) -> Decoded:
    return ProtocolDecoder(settings).decode(frame)


BASE = {"type": "fragment", "speaker": "agent", "segment": "a-1", "text": "不关我的事"}

ACCEPTED = [
    BASE,
    {**BASE, "final": True, "start_ms": 0, "end_ms": 900, "seq": 3},
    {**BASE, "speaker": "customer", "volume": "low", "extra": {"ignored": True}},
    {**BASE, "start_ms": None, "end_ms": None, "seq": None, "volume": None},
    {**BASE, "text": ""},
    {**BASE, "segment": "s" * 128},
]
#: Not hand-checked: the models accept (lax) or refuse them.
HANDED_ON = [
    {**BASE, "final": 1},
    {**BASE, "final": "true"},
    {**BASE, "final": None},
    {**BASE, "start_ms": 5.0},
    {**BASE, "start_ms": True},
    {**BASE, "start_ms": -5},
    {**BASE, "seq": "7"},
    {**BASE, "speaker": "robot"},
    {**BASE, "segment": ""},
    {**BASE, "segment": "s" * 129},
    {**BASE, "text": 5},
    {"type": "fragment", "speaker": "agent", "text": "你好"},
    {**BASE, "volume": "loud"},
]


def frame(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "websocket.receive", "text": orjson.dumps(data).decode()}


@pytest.mark.parametrize("data", ACCEPTED)
def test_an_accepted_fragment_is_what_the_model_makes_of_it(data: dict[str, Any]) -> None:
    assert fast_fragment(data, SETTINGS.max_text_chars) is not None
    kind, seq, message, item, more = _decode(frame(data), SETTINGS)
    model = CLIENT_MESSAGE.validate_python(data)
    assert isinstance(model, FragmentMessage)
    assert (kind, seq, message, item, more) == ("fragment", model.seq, None, model.to_input(), ())


@pytest.mark.parametrize("data", HANDED_ON)
def test_anything_else_goes_to_the_model(data: dict[str, Any]) -> None:
    assert fast_fragment(data, SETTINGS.max_text_chars) is None
    try:
        model = CLIENT_MESSAGE.validate_python(data)
    except ValueError:
        with pytest.raises(Refused) as refused:
            _decode(frame(data), SETTINGS)
        assert refused.value.code == "invalid_message"
        return
    assert _decode(frame(data), SETTINGS)[2] == model


def test_an_oversized_text_is_refused_on_either_path() -> None:
    for data in ({**BASE, "text": "好" * 4097}, {**BASE, "text": "好" * 4097, "final": 1}):
        with pytest.raises(Refused) as refused:
            _decode(frame(data), SETTINGS)
        assert refused.value.code == "too_large" and "4096" in refused.value.detail
