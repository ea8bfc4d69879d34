"""Tables built once per process from the dictionaries, kept on disk between starts.

The normalizer's fold of every BMP character (OpenCC, Unicode's data) and the sound-alike tables
(pypinyin) take seconds to build and are the same on every start of the same installation.
:func:`cached` keeps what a builder made in a JSON file under the cache directory
(``HUASHU_CACHE_DIR``), named by a digest of everything the table depends on: the builder
module's source, the versions of the packages it reads and of Python's Unicode data. A change to
any of them is another file; a file that cannot be read or does not decode is built again.

JSON, not pickle: a file in the cache directory is data, never code, whoever wrote it. Writes go
through a temporary file and a rename, so processes starting together never read half a file.
Without a directory (none set, or not writable) the tables are built in memory as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import orjson

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Where tables are kept; None: built in memory on every start (:func:`use_directory`).
_directory: Path | None = None


def use_directory(directory: Path | None) -> None:
    """Keep tables under ``directory`` from now on (None: keep none)."""
    global _directory
    _directory = directory


def _digest(source: Path, packages: tuple[str, ...]) -> str | None:
    """What a table depends on, as a digest; None when the builder's source cannot be read
    (an installation without sources: no cache)."""
    try:
        code = source.read_bytes()
    except OSError:
        return None
    parts = [code, unicodedata.unidata_version.encode(), sys.version.encode()]
    for package in packages:
        try:
            parts.append(f"{package}=={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            parts.append(package.encode())
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:24]


def cached(
    name: str,
    source: Path,
    packages: tuple[str, ...],
    build: Callable[[], T],
    encode: Callable[[T], object],
    decode: Callable[[object], T],
) -> T:
    """The table ``name``: read from the cache directory when a file made from the same
    ``source`` and ``packages`` is there and ``decode`` accepts it (it raises on anything
    malformed), else built and written there for the next start."""
    directory = _directory
    digest = _digest(source, packages) if directory is not None else None
    if directory is None or digest is None:
        return build()
    path = directory / f"{name}-{digest}.json"
    try:
        return decode(orjson.loads(path.read_bytes()))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError, KeyError, IndexError, ArithmeticError) as exc:
        log.warning("table cache %s unreadable, building it again: %s", path, exc)
    table = build()
    _write(directory, path, name, orjson.dumps(encode(table)))
    return table


def _write(directory: Path, path: Path, name: str, body: bytes) -> None:
    """Write ``body`` to ``path`` atomically and drop older files of ``name``; a directory
    that cannot be written is logged and left alone (the table is in memory all the same)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(body)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        for older in directory.glob(f"{name}-*.json"):
            if older != path:
                older.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("table cache %s not written: %s", path, exc)
