"""The table cache (``app/engine/tables.py``): what is read back is what was built, a file that
does not decode is built again, a directory that cannot be written costs nothing but the cache."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from app.config import Settings
from app.engine import normalize, phonetic
from app.engine import tables as table_cache

SOURCE = Path(phonetic.__file__).parent / "phonetic.py"


@pytest.fixture
def directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(table_cache, "_directory", tmp_path / "cache")
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def reference() -> phonetic._Tables:
    """The tables built once for the module (seconds each time)."""
    return phonetic._build()


@pytest.fixture
def built(reference: phonetic._Tables, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times :func:`_phonetic` built the tables (each time: ``reference``)."""
    count: list[int] = []

    def build() -> phonetic._Tables:
        count.append(1)
        return reference

    monkeypatch.setitem(globals(), "_build", build)
    return count


#: What :func:`_phonetic` builds with (the ``built`` fixture counts the builds).
_build = phonetic._build


def _phonetic() -> phonetic._Tables:
    return table_cache.cached(
        "phonetic", SOURCE, ("pypinyin",), lambda: _build(), phonetic._encode, phonetic._decode
    )


def _same(a: phonetic._Tables, b: phonetic._Tables) -> None:
    assert a.ids == b.ids
    assert a.table == b.table
    assert a.symbols == b.symbols
    assert a.alts == b.alts


def test_the_sound_tables_read_back_are_the_built_ones(
    directory: Path, built: list[int], reference: phonetic._Tables
) -> None:
    assert _phonetic() is reference
    [stored] = directory.glob("phonetic-*.json")
    read = _phonetic()
    assert read is not reference and len(built) == 1
    _same(read, reference)
    # a syllable's string is shared by its characters, as built
    first = next(entry for entry in read.table if isinstance(entry, str))
    assert sum(entry is first for entry in read.table) > 1
    assert stored.exists()


def test_the_fold_table_read_back_is_the_built_one(directory: Path) -> None:
    def cached() -> list[int | str]:
        return table_cache.cached(
            "fold",
            Path(normalize.__file__).parent / "normalize.py",
            ("opencc",),
            normalize._build_table,
            normalize._encode_table,
            normalize._decode_table,
        )

    built = cached()
    assert list(directory.glob("fold-*.json"))
    assert cached() == built == normalize._build_table()


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'{"ids": {}, "table": [], "symbols": [], "alts": []}', b"null", b'"x"'],
)
def test_a_file_that_does_not_decode_is_built_again(
    directory: Path, body: bytes, caplog: pytest.LogCaptureFixture, built: list[int]
) -> None:
    _phonetic()
    [stored] = directory.glob("phonetic-*.json")
    stored.write_bytes(body)
    with caplog.at_level(logging.WARNING, "app.engine.tables"):
        _phonetic()
    assert "unreadable" in caplog.text and len(built) == 2
    assert orjson.loads(stored.read_bytes())["ids"]  # written again, whole


@pytest.mark.parametrize(
    ("field", "at", "value"),
    [
        ("table", 0x4E00, [1, 2]),  # a wrong type
        ("table", 0x4E00, 0x4E00 + 0x100000 + 1),  # another character's place
        ("table", 0x41, 1_048_641.0),  # the right number as a float
        ("table", 0x4E00, "\U000f0000\U000f0000"),  # two symbols for one character
        ("table", 0x4E00, "\U000fffff"),  # a syllable no id stands for
        ("symbols", 0x4E00, -1),  # not a uint32
        ("symbols", 0x4E00, 2**40),
        ("symbols", 0x4E00, 0x80000000 | 10**6),  # reads outside the alternatives
        ("symbols", 0x4E00, 0x80000000),  # the list that is no list
        ("symbols", 0x41, 0x42),  # another character
        ("alts", 0, 5),
        ("ids", "zzz", 10**6),  # ids not 0..n-1
    ],
)
def test_an_entry_the_build_cannot_make_is_refused(
    directory: Path, built: list[int], field: str, at: int | str, value: object
) -> None:
    """The C kernel and ``str.translate`` read the tables as they are: a file that says what no
    build says is built again, never handed to them."""
    _phonetic()
    [stored] = directory.glob("phonetic-*.json")
    content = orjson.loads(stored.read_bytes())
    content[field][at] = value
    stored.write_bytes(orjson.dumps(content))
    _phonetic()
    assert len(built) == 2


@pytest.mark.parametrize("value", [0x4E01, -1, 0x4E00 * 1.0, None, [0x4E00]])
def test_a_fold_entry_the_build_cannot_make_is_refused(value: object) -> None:
    table = [code for code in range(0x10000)]
    assert normalize._decode_table(table) == table
    table[0x4E00] = value
    with pytest.raises(ValueError):
        normalize._decode_table(table)


def test_a_directory_that_cannot_be_written_costs_only_the_cache(
    directory: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, built: list[int]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    table_cache.use_directory(blocker / "cache")
    with caplog.at_level(logging.WARNING, "app.engine.tables"):
        _phonetic()
        _phonetic()
    assert "not written" in caplog.text and len(built) == 2


def test_another_source_is_another_file_and_the_old_one_goes(
    directory: Path, tmp_path: Path
) -> None:
    source = tmp_path / "builder.py"
    source.write_text("v1")
    calls: list[int] = []

    def build() -> list[int]:
        calls.append(1)
        return [len(calls)]

    def decode(stored: object) -> list[int]:
        assert isinstance(stored, list)
        return stored

    def cached() -> list[int]:
        return table_cache.cached("t", source, ("orjson",), build, lambda t: t, decode)

    assert cached() == [1] and cached() == [1]
    [first] = directory.glob("t-*.json")
    source.write_text("v2")
    assert cached() == [2]
    [second] = directory.glob("t-*.json")
    assert second != first
    # a builder without its source (an installation without sources): no cache, no error
    source.unlink()
    assert cached() == [3]


def test_no_directory_builds_in_memory(directory: Path, tmp_path: Path, built: list[int]) -> None:
    table_cache.use_directory(None)
    _phonetic()
    _phonetic()
    assert len(built) == 2 and not list(tmp_path.iterdir())


def test_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings().cache_dir == Path("data/cache")
    monkeypatch.setenv("HUASHU_CACHE_DIR", "")
    assert Settings().cache_dir is None
    monkeypatch.setenv("HUASHU_CACHE_DIR", str(tmp_path))
    assert Settings().cache_dir == tmp_path
