"""Choosing a connection's decoder by ``?format=``: PROTOCOL's by default, one per connection,
an unknown name refused with the names there are."""

from __future__ import annotations

import pytest

from app.asr import DECODERS, Refused, decoder_for
from app.asr.protocol import ProtocolDecoder
from app.config import Settings

SETTINGS = Settings()


@pytest.mark.parametrize("name", [None, "", "huashu"])
def test_protocol_is_the_default_format(name: str | None) -> None:
    assert isinstance(decoder_for(name, SETTINGS), ProtocolDecoder)


def test_each_connection_gets_its_own_decoder() -> None:
    assert decoder_for(None, SETTINGS) is not decoder_for(None, SETTINGS)


@pytest.mark.parametrize("name", ["funasr-nope", "HUASHU", "huashu ", "\x00", "x" * 10_000])
def test_an_unknown_format_is_refused_naming_the_known_ones(name: str) -> None:
    with pytest.raises(Refused) as refused:
        decoder_for(name, SETTINGS)
    assert refused.value.code == "unknown_format"
    assert all(known in refused.value.detail for known in DECODERS)


def test_a_decoder_reads_its_limits_from_the_settings() -> None:
    small = Settings(max_text_chars=3)
    decoder = decoder_for(None, small)
    frame = {
        "type": "websocket.receive",
        "text": '{"type":"fragment","speaker":"agent","segment":"a","text":"你好你好"}',
    }
    with pytest.raises(Refused) as refused:
        decoder.decode(frame)
    assert refused.value.code == "too_large"
