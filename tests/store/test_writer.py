"""The writer's group commit against a real SQLite file: callbacks after the commit, in order;
a locked database is waited out with nothing lost; a refused write does not hold back the rest;
and on each database, rows written as SQLAlchemy would write them."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from app.store.database import make_engine, migrate, sessions, sync_sqlite_engine
from app.store.models import CallRow, EventRow, InputRow
from app.store.postgres import PostgresBatches
from app.store.repository import CALLS, EVENTS, INPUTS
from app.store.writer import Batches, ThreadBatches, Writer, _unreachable


def live_batches(url: str, engine: AsyncEngine) -> Batches:
    """The batches a live writer uses on ``url``'s database (as the repository picks them)."""
    if url.startswith("sqlite"):
        return ThreadBatches(sync_sqlite_engine(url))
    return PostgresBatches(engine)


CALL = {
    "call_id": "c-1",
    "tenant": "",  # the open service's
    "token": "t",
    "script_id": "s",
    "script_version": 1,
    "agent_id": None,
    "created_ms": 0,
    "started_ms": 0,
    "call_type": "consult",
    "phase": "ringing",
    "alerts": 0,
    "ended": False,
    "setup": {},
    "snapshot": None,
    "report": None,
}


def event(seq: int) -> dict[str, object]:
    return {"tenant": "", "call_id": "c-1", "seq": seq, "type": "alert", "body": f'{{"seq":{seq}}}'}


async def stored_seqs(url: str) -> list[int]:
    engine = make_engine(url)
    async with sessions(engine)() as session:
        seqs = list((await session.scalars(select(EventRow.seq).order_by(EventRow.seq))).all())
    await engine.dispose()
    return seqs


def test_callbacks_run_after_their_writes_are_committed_in_order(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"

    async def main() -> tuple[list[str], int, list[int]]:
        engine = make_engine(url)
        await migrate(engine)
        writer = Writer(ThreadBatches(sync_sqlite_engine(url)))
        writer.start()
        order: list[str] = []
        writer.when_durable(lambda: order.append("nothing pending: at once"))
        writer.put(insert(CallRow.__table__), CALL)
        for seq in range(1, 101):
            writer.put(insert(EventRow.__table__), event(seq))
            if seq % 25 == 0:
                writer.when_durable(lambda seq=seq: order.append(f"after {seq}"))
        await writer.close()
        await engine.dispose()
        return order, writer.batches, await stored_seqs(url)

    order, batches, seqs = asyncio.run(main())
    assert order == ["nothing pending: at once", "after 25", "after 50", "after 75", "after 100"]
    assert batches <= 2  # queued in one turn of the loop: committed together
    assert seqs == list(range(1, 101))


def test_a_locked_database_is_waited_out_and_nothing_is_acknowledged_before(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def main() -> tuple[bool, bool, list[int]]:
        engine = make_engine(url)
        await migrate(engine)
        await engine.dispose()
        # Another process holds the write lock; this writer's connections give up fast.
        writer = Writer(ThreadBatches(sync_sqlite_engine(url, timeout_s=0.05)), retry_s=0.05)
        writer.start()
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        done: list[bool] = []
        writer.put(insert(CallRow.__table__), CALL)
        writer.put(insert(EventRow.__table__), event(1))
        writer.when_durable(lambda: done.append(True))
        await asyncio.sleep(0.5)
        acknowledged_while_locked = bool(done)
        writer.put(insert(EventRow.__table__), event(2))
        assert writer.backlog == 3  # the batch tried again, and what was queued meanwhile
        blocker.execute("ROLLBACK")
        blocker.close()
        await writer.close()
        assert writer.backlog == 0
        return acknowledged_while_locked, bool(done), await stored_seqs(url)

    assert asyncio.run(main()) == (False, True, [1, 2])


def test_a_refused_write_is_left_out_and_the_rest_is_written(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"

    async def main() -> list[int]:
        engine = make_engine(url)
        await migrate(engine)
        writer = Writer(ThreadBatches(sync_sqlite_engine(url)))
        writer.start()
        writer.put(insert(CallRow.__table__), CALL)
        writer.put(insert(EventRow.__table__), event(1))
        writer.put(insert(EventRow.__table__), event(1))  # a bug: the same event twice
        writer.put(insert(EventRow.__table__), {**event(2), "call_id": "no-such-call"})
        writer.put(insert(EventRow.__table__), event(3))
        await writer.close()
        await engine.dispose()
        return await stored_seqs(url)

    assert asyncio.run(main()) == [1, 3]


def test_a_write_that_cannot_even_be_made_is_refused_and_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    """A bug that is not the database's (a parameter missing, a value no driver can send) is a
    refused write too: before, it ended the writer's task, and every acknowledgement after it
    waited for ever."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"

    async def main() -> list[int]:
        engine = make_engine(url)
        await migrate(engine)
        writer = Writer(ThreadBatches(sync_sqlite_engine(url)))
        writer.start()
        writer.put(insert(CallRow.__table__), CALL)
        writer.put(insert(EventRow.__table__), event(1))
        writer.put(insert(EventRow.__table__), {**CALL, "setup": {"x": object()}})  # unencodable
        writer.put(insert(EventRow.__table__), event(2))
        await asyncio.wait_for(writer.durable(), 10)
        writer.put(insert(EventRow.__table__), event(3))  # and the writer still writes
        await asyncio.wait_for(writer.close(), 10)
        await engine.dispose()
        return await stored_seqs(url)

    assert asyncio.run(main()) == [1, 2, 3]


def test_writes_of_ordered_statements_go_as_one_executemany_each(tmp_path: Path) -> None:
    """Queued alternately (a call's input, event, progress, as a fragment writes them), the
    writes of statements with a place in ``order`` go as one ``executemany`` a statement, in
    that order, each statement's rows in their own order; with any other statement in the
    batch, they go as queued."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    add_event = insert(EVENTS)
    progress = update(CALLS).values(alerts=CALLS.c.alerts + 1)
    stray = insert(EVENTS).prefix_with("OR IGNORE")

    async def main(order: tuple[Executable, ...], extra: bool) -> tuple[int, list[int], int]:
        engine = make_engine(url)
        await migrate(engine)
        sync = sync_sqlite_engine(url)
        executions: list[int] = []
        sa_event.listen(sync, "before_cursor_execute", lambda *args: executions.append(1))
        async with sessions(engine)() as session, session.begin():
            await session.execute(insert(CallRow.__table__), CALL)
        writer = Writer(ThreadBatches(sync), order=order)
        writer.start()
        for seq in range(1, 51):
            writer.put(add_event, event(seq))
            writer.put(progress, {})
        if extra:
            writer.put(stray, event(51))
        await writer.close()
        async with sessions(engine)() as session:
            alerts = (await session.scalars(select(CALLS.c.alerts))).one()
        await engine.dispose()
        return len(executions), await stored_seqs(url), alerts

    for db in tmp_path.glob("h.db*"):
        db.unlink()
    grouped, seqs, alerts = asyncio.run(main((add_event, progress), extra=False))
    assert seqs == list(range(1, 51)) and alerts == 50
    assert grouped <= 2 * 2  # two statements, in at most two batches
    for db in tmp_path.glob("h.db*"):
        db.unlink()
    queued, seqs, alerts = asyncio.run(main((add_event, progress), extra=True))
    assert seqs == list(range(1, 52)) and alerts == 50
    assert queued >= 100  # a stray statement: as queued, a round trip each change


def test_rows_are_written_as_sqlalchemy_would_write_them(database_url: str) -> None:
    """The writer hands the driver plain rows of statements compiled once: a JSON column's
    value is encoded (a missing body is JSON null), a value the statement fixes itself is
    written, and an INSERT given fewer columns writes those only — on each database."""
    fixed_end = update(CALLS).where(CALLS.c.call_id == bindparam("b_call_id")).values(ended=True)
    body = {"speaker": "customer", "text": '你好 "引号"', "final": True, "n": [1, None]}

    async def main() -> tuple[Any, ...]:
        engine = make_engine(database_url)
        await migrate(engine)
        writer = Writer(live_batches(database_url, engine))
        writer.start()
        writer.put(insert(CALLS), {k: v for k, v in CALL.items() if k != "snapshot"})
        for n, value in ((1, body), (2, None)):
            row = {"tenant": "", "call_id": "c-1", "n": n, "kind": "fragment", "body": value}
            writer.put(insert(INPUTS), row | {"wall_ms": 1_795_312_804_000, "client_seq": None})
        writer.put(fixed_end, {"b_call_id": "c-1"})
        await writer.close()
        async with sessions(engine)() as session:
            call = (await session.scalars(select(CallRow))).one()
            bodies = (await session.scalars(select(InputRow.body).order_by(InputRow.n))).all()
        await engine.dispose()
        return call.setup, call.ended, call.snapshot, list(bodies)

    assert asyncio.run(main()) == ({}, True, None, [body, None])


def test_a_connection_found_dead_is_a_batch_to_try_again_not_a_refused_write() -> None:
    dead = DBAPIError("INSERT", {}, Exception("connection reset"), connection_invalidated=True)
    refused = DBAPIError("INSERT", {}, Exception("duplicate key"))
    assert _unreachable(dead) and not _unreachable(refused)
    assert _unreachable(OSError("connection refused"))
