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

class Cursor:
    def __init__(self, words: Automaton | None, sounds: Automaton | None) -> None: ...
    def feed(
        self, text: str, start: int, /
    ) -> tuple[list[tuple[int, Any]] | None, list[tuple[int, Any]] | None] | None: ...
    def reset(self) -> None: ...
