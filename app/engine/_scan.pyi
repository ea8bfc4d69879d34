"""Types of the native pass (``_scan.c``); see :mod:`app.engine.native`."""

from typing import Any

from typing_extensions import Buffer

class Folder:
    def __init__(self, table: Buffer, classes: Buffer, digits: Buffer) -> None: ...
    def __call__(self, text: str) -> str | None: ...

class Automaton:
    def __init__(
        self,
        parents: Buffer,
        labels: Buffer,
        fail: Buffer,
        output: Buffer,
        link: Buffer,
        values: tuple[Any, ...],
        symbols: Buffer | None = None,
    ) -> None: ...
    def scan(
        self, text: str, start: int, state: int, /
    ) -> tuple[int, list[tuple[int, Any]] | None]: ...
    def nodes(self) -> int: ...

class Tolerant:
    def __init__(
        self,
        parents: Buffer,
        labels: Buffer,
        is_gap: Buffer,
        gap_min: Buffer,
        gap_max: Buffer,
        gap_counts: Buffer,
        output: Buffer,
        values: tuple[Any, ...],
        chars: Buffer,
        limits: Buffer,
        symbols: Buffer | None = None,
        alts: Buffer | None = None,
        budget: int = 0,
    ) -> None: ...
    def nodes(self) -> int: ...

class Cursor:
    def __init__(self, words: Automaton | None, sounds: Tolerant | None) -> None: ...
    def feed(
        self, text: str, start: int, /
    ) -> tuple[list[tuple[int, Any]] | None, list[tuple[int, Any, int]] | None] | None: ...
    def reset(self) -> None: ...
    def shift(self, cut: int, /) -> None: ...
    def live(self) -> int: ...
