"""What is stored of customers' words: long digit runs masked.

A call's transcript holds customers' personal data: phone numbers (11 digits), ID numbers (18),
bank cards (16–19), said as digits or as Chinese numerals read one by one (幺三八…). With
``HUASHU_MASK_DIGITS`` on (the default), every run of at least :data:`MIN_RUN` such characters
is stored as as many ``*``: the length is kept, so alert spans still point at the right words,
and a call rebuilt from masked inputs makes the same (masked) events as were stored. What the
agent sees live is never masked, but for what a long call's report reads back from the store
(the lines and alerts that left its engine's memory: ``HUASHU_TRANSCRIPT_WINDOW``,
``HUASHU_ALERT_WINDOW``). Shorter numbers (10086, a price, an amount of data) are kept.
"""

from __future__ import annotations

import re

#: The shortest digit run that is masked: a landline without its area code has 7 or 8.
MIN_RUN = 7
_DIGIT = "0-9０-９零〇一二三四五六七八九幺两"
_RUN = re.compile(f"[{_DIGIT}]{{{MIN_RUN},}}")
#: A JSON string literal (as orjson writes it: no raw control characters inside).
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _stars(match: re.Match[str]) -> str:
    return "*" * len(match.group())


def mask_text(text: str) -> str:
    """``text`` with every long digit run masked."""
    return _RUN.sub(_stars, text)


def mask_encoded(encoded: bytes) -> bytes:
    """UTF-8 encoded JSON masked as :func:`mask_json` masks it."""
    return mask_json(encoded.decode()).encode()


def mask_json(encoded: str) -> str:
    """Encoded JSON with the digit runs masked inside its strings only (numbers, such as
    times in ms, are left alone)."""
    for run in _RUN.finditer(encoded):
        if _in_string(encoded, run.start()):
            return _JSON_STRING.sub(lambda m: mask_text(m.group()), encoded)
    return encoded


def _in_string(encoded: str, at: int) -> bool:
    """Whether ``at`` may be inside a string of ``encoded``. Without a backslash every quote
    opens or closes a string, so an odd number before ``at`` says it is; with one (an escaped
    quote), say it may be. A call's events from its 17th minute on carry a 7-digit ``at_ms``:
    without this, each of them went through the masking pass."""
    return "\\" in encoded or encoded.count('"', 0, at) % 2 == 1
