"""The script library on each document store (in memory, SQLite, PostgreSQL): versions, tenants'
own documents over shared ones, seeding, and compiled scripts kept by their pins."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from app.config import Settings
from app.errors import InvalidMessage, NotFound
from app.scripts.loader import load_library
from app.scripts.repository import SHARED, DocumentRepository, MemoryDocumentRepository
from app.scripts.service import Pins, ScriptLibrary
from app.store.database import make_engine, migrate
from app.store.documents import SqlDocumentRepository
from tests.databases import postgres_database

T = TypeVar("T")
FILES = load_library(Settings().scripts_dir)
OWN = {
    "id": "acme",
    "name": "ACME",
    "categories": {"acme_curt": {"name": "生硬", "severity": "major"}},
    "entries": [{"phrase": "自己去看说明书", "category": "acme_curt", "source": "ACME 2026"}],
}


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "memory":
        yield "memory"
    elif request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    else:
        yield from postgres_database()


def with_library(url: str, body: Callable[[ScriptLibrary], Awaitable[T]]) -> T:
    async def main() -> T:
        documents: DocumentRepository
        engine = None
        if url == "memory":
            documents = MemoryDocumentRepository()
        else:
            engine = make_engine(url)
            await migrate(engine)
            documents = SqlDocumentRepository(engine)
        try:
            return await body(ScriptLibrary(documents))
        finally:
            if engine is not None:
                await engine.dispose()

    return asyncio.run(main())


def test_seed_once_then_only_what_changed(store_url: str) -> None:
    async def body(library: ScriptLibrary) -> tuple[int, int, list[str]]:
        first = await library.seed(FILES)
        again = await library.seed(FILES)
        return first, again, [d.id for d in await library.all("script", None)]

    first, again, scripts = with_library(store_url, body)
    assert first == len(FILES.scripts) + len(FILES.lexicons) and again == 0
    assert scripts == sorted(FILES.scripts)


def test_versions_tenants_and_shadowing(store_url: str) -> None:
    async def body(library: ScriptLibrary) -> dict[str, Any]:
        await library.seed(FILES)
        shared = await library.find("lexicon", None, "forbidden")
        own_1 = await library.put_lexicon("t-a", "acme", OWN)
        own_2 = await library.put_lexicon("t-a", "acme", {**OWN, "name": "ACME v2"})
        shadow = await library.put_lexicon("t-a", "forbidden", {**OWN, "id": "forbidden"})
        seen = {
            "a": [d.id for d in await library.all("lexicon", "t-a")],
            "b": [d.id for d in await library.all("lexicon", "t-b")],
            "open": [d.id for d in await library.all("lexicon", None)],
        }
        with pytest.raises(NotFound):
            await library.find("lexicon", "t-b", "acme")
        old = await library.lexicon("t-a", "acme", 1)
        return {
            "versions": (own_1.version, own_2.version, shadow.version, shared.version),
            "seen": seen,
            "old_name": old.name,
            "a_forbidden": (await library.lexicon("t-a", "forbidden")).name,
            "b_forbidden": (await library.lexicon("t-b", "forbidden")).version,
        }

    got = with_library(store_url, body)
    # A tenant's own version of a shared document is numbered after the shared one's.
    assert got["versions"] == (1, 2, 2, 1)
    assert got["seen"] == {"a": ["acme", "forbidden"], "b": ["forbidden"], "open": ["forbidden"]}
    assert got["old_name"] == "ACME" and got["a_forbidden"] == "ACME" and got["b_forbidden"] == 1


def test_writers_at_once_each_get_a_version(store_url: str) -> None:
    async def body(library: ScriptLibrary) -> list[int]:
        stored = await asyncio.gather(
            *(library.put_lexicon(None, "acme", {**OWN, "name": f"n{n}"}) for n in range(5))
        )
        return sorted(d.version for d in stored)

    assert with_library(store_url, body) == [1, 2, 3, 4, 5]


def test_a_script_naming_an_unknown_or_clashing_lexicon_is_refused(store_url: str) -> None:
    async def body(library: ScriptLibrary) -> list[str]:
        await library.seed(FILES)
        script = (await library.find("script", None, "cmcc-10086")).body
        details = []
        for bad in ({**script, "lexicons": ["nope"]}, {**script, "id": "other"}, "not a dict"):
            with pytest.raises(InvalidMessage) as refused:
                await library.put_script("t-a", "cmcc-10086", bad)
            details.append(refused.value.detail)
        clash = {**OWN, "id": "clash", "categories": {"shirk": {"name": "x", "severity": "minor"}}}
        clash["entries"] = [{**OWN["entries"][0], "category": "shirk"}]
        await library.put_lexicon("t-a", "clash", clash)
        with pytest.raises(InvalidMessage) as refused:
            await library.put_script("t-a", "cmcc-10086", {**script, "lexicons": ["clash"]})
        details.append(refused.value.detail)
        return details

    unknown, wrong_id, not_dict, clash = with_library(store_url, body)
    assert unknown == "lexicons.0: no lexicon 'nope'"
    assert wrong_id.startswith("id:") and "object" in not_dict
    assert "defined differently" in clash


def test_a_compiled_script_is_kept_by_its_pins(store_url: str) -> None:
    async def body(library: ScriptLibrary) -> tuple[bool, bool, Pins, Pins]:
        await library.seed(FILES)
        first, pins = await library.compiled("t-a", "cmcc-10086")
        again, _ = await library.compiled("t-a", "cmcc-10086")
        await library.put_lexicon("t-a", "forbidden", {**OWN, "id": "forbidden"})
        newer, new_pins = await library.compiled("t-a", "cmcc-10086")
        return first is again, newer is not first, pins, new_pins

    same, changed, pins, new_pins = with_library(store_url, body)
    assert same and changed
    assert pins.lexicons == ((SHARED, "forbidden", 1),)
    assert new_pins.lexicons == (("t-a", "forbidden", 2),)
    assert Pins.from_json(new_pins.to_json()) == new_pins


def test_a_script_is_compiled_once_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling takes a third of a second and more: made on the event loop it would stall
    every live call. Calls starting together on a new version wait for one compilation, made
    in a worker thread, while the loop goes on."""
    import threading

    import app.scripts.service as service

    made: list[str] = []
    real = service.CompiledScript

    def compile_in(*args: Any) -> Any:
        made.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(service, "CompiledScript", compile_in)

    async def body(library: ScriptLibrary) -> tuple[list[Any], int]:
        await library.seed(FILES)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        ticking = asyncio.ensure_future(tick())
        compiled = await asyncio.gather(*(library.compiled("t-a", "cmcc-10086") for _ in range(5)))
        ticking.cancel()
        return [c for c, _ in compiled], ticks

    compiled, ticks = with_library("memory", body)
    assert len(made) == 1 and made[0] != threading.main_thread().name
    assert all(c is compiled[0] for c in compiled)
    assert ticks > 0  # the loop ran while it compiled


def test_warm_compiles_every_shared_script_before_the_first_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Start-up warms the library: the first call on each shared script after a start finds
    it compiled. A tenant's own version is not warmed (it compiles at its first call)."""
    import app.scripts.service as service

    made: list[str] = []
    real = service.CompiledScript

    def counting(script: Any, lexicon: Any) -> Any:
        made.append(script.id)
        return real(script, lexicon)

    monkeypatch.setattr(service, "CompiledScript", counting)

    async def body(library: ScriptLibrary) -> tuple[int, list[str], list[str]]:
        await library.seed(FILES)
        warmed = await library.warm()
        at_start = list(made)
        for script_id in FILES.scripts:
            _, pins = await library.compiled(None, script_id)
            assert library.is_compiled(pins)
        await library.put_lexicon("t-a", "forbidden", {**OWN, "id": "forbidden"})
        await library.compiled("t-a", "cmcc-10086")
        return warmed, at_start, made

    warmed, at_start, made_all = with_library("memory", body)
    assert warmed == len(FILES.scripts) >= 3
    assert sorted(at_start) == sorted(FILES.scripts)
    assert made_all == [*at_start, "cmcc-10086"]  # only the tenant's own lexicon compiled later


def test_warm_skips_a_script_that_cannot_compile(caplog: pytest.LogCaptureFixture) -> None:
    """A shared script whose lexicon is gone is logged and left for its first call, which
    answers the error; start-up goes on."""

    async def body(library: ScriptLibrary) -> int:
        await library.seed(FILES)
        documents = library._documents
        assert isinstance(documents, MemoryDocumentRepository)
        for key in [k for k in documents._docs if k[0] == "lexicon"]:
            del documents._docs[key]
        return await library.warm()

    with caplog.at_level("WARNING", logger="app.scripts.service"):
        assert with_library("memory", body) == 0
    assert "not compiled at start-up" in caplog.text


def test_compilations_and_dry_runs_take_turns_in_one_thread() -> None:
    """Two script versions compiled and a dry run, asked for at once: one thread, never two
    at a time (each holds the interpreter's lock for a switch interval at a time)."""
    import threading
    import time

    spans: list[tuple[str, float, float]] = []

    def work(seconds: float) -> str:
        started = time.perf_counter()
        time.sleep(seconds)
        spans.append((threading.current_thread().name, started, time.perf_counter()))
        return "done"

    async def body(library: ScriptLibrary) -> list[Any]:
        await library.seed(FILES)
        return await asyncio.gather(
            library.compiled(None, "cmcc-10086"),
            library.compiled(None, "ct-10000"),
            library.dry_run("t-a", work, 0.05),
            library.dry_run("t-b", work, 0.05),
            return_exceptions=True,
        )

    import app.scripts.service as service

    real = service.CompiledScript

    def timed(*args: Any) -> Any:
        started = time.perf_counter()
        compiled = real(*args)
        spans.append((threading.current_thread().name, started, time.perf_counter()))
        return compiled

    patch = pytest.MonkeyPatch()
    patch.setattr(service, "CompiledScript", timed)
    try:
        results = with_library("memory", body)
    finally:
        patch.undo()
    assert not [r for r in results if isinstance(r, BaseException)]
    assert len(spans) == 4 and len({name for name, _, _ in spans}) == 1
    ordered = sorted(spans, key=lambda span: span[1])
    assert all(a[2] <= b[1] for a, b in zip(ordered, ordered[1:], strict=False))


def test_a_second_dry_run_of_a_tenant_is_refused_while_its_first_runs() -> None:
    import time

    from app.ops.quotas import TooMany

    async def body(library: ScriptLibrary) -> tuple[Any, Any, Any, Any]:
        first = asyncio.ensure_future(library.dry_run("t-a", time.sleep, 0.2))
        await asyncio.sleep(0.05)
        second, other = await asyncio.gather(
            library.dry_run("t-a", time.sleep, 0.0),
            library.dry_run("t-b", time.sleep, 0.0),
            return_exceptions=True,
        )
        await first
        again = await library.dry_run("t-a", len, "ok")
        return first.result(), second, other, again

    first, second, other, again = with_library("memory", body)
    assert first is None and other is None and again == 2
    assert isinstance(second, TooMany) and second.code == "too_many_checks"
