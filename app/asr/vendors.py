"""The ASR engines' formats, by their ``?format=`` name."""

from __future__ import annotations

from collections.abc import Callable

from app.asr import Decoder, Leg
from app.asr.adapter import Adapter
from app.asr.aliyun import AliyunDecoder
from app.asr.funasr import FunasrDecoder
from app.asr.iflytek import IflytekDecoder
from app.asr.tencent import TencentDecoder
from app.asr.transcribe import TranscribeDecoder
from app.asr.vosk import VoskDecoder
from app.config import Settings

ADAPTERS: tuple[type[Adapter], ...] = (
    FunasrDecoder,
    VoskDecoder,
    AliyunDecoder,
    TencentDecoder,
    IflytekDecoder,
    TranscribeDecoder,
)
VENDORS: dict[str, Callable[[Settings, Leg], Decoder]] = {a.format: a for a in ADAPTERS}
