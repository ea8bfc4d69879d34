"""Group commit: what live calls write is queued in line with the engine and committed in
batches by one background task, so an alert never waits on the database.

Writes are plain statements with their parameters; consecutive ones of the same statement go
to the database as one ``executemany``. :meth:`Writer.when_durable` runs a callback once
everything queued before it is committed: the stream sends its ``ack`` and ``pong`` through it
(PROTOCOL: an ack means durable; a pong is a durability barrier).

A batch that fails to commit is kept and tried again (the database may be restarting); its
callbacks wait with it, so nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

log = logging.getLogger(__name__)

#: One queued write: a statement and its parameters.
Write = tuple[Executable, dict[str, Any]]


class Writer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        retry_s: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._retry_s = retry_s
        self._pending: list[Write] = []
        self._callbacks: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: Batches committed, and writes in them (for tests and metrics).
        self.batches = 0
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="huashu-writer")

    def put(self, statement: Executable, params: dict[str, Any]) -> None:
        """Queue one write; it is committed with the next batch."""
        self._pending.append((statement, params))
        self._wake.set()

    def when_durable(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once everything queued so far is committed (now, if it is)."""
        if not self._pending and not self._busy:
            callback()
            return
        self._callbacks.append(callback)
        self._wake.set()

    async def durable(self) -> None:
        """Until everything queued so far is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def release() -> None:
            if not done.done():
                done.set_result(None)

        self.when_durable(release)
        await done

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        await self.durable()
        self._closing = True
        self._wake.set()
        await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending and not self._callbacks:
                if self._closing:
                    return
                continue
            batch, self._pending = self._pending, []
            callbacks, self._callbacks = self._callbacks, []
            self._busy = True
            try:
                while not await self._commit(batch):
                    await asyncio.sleep(self._retry_s)
            finally:
                self._busy = False
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # noqa: BLE001 - one connection's reply must not stop writes
                    log.exception("a durability callback failed")

    async def _commit(self, batch: list[Write]) -> bool:
        """Commit ``batch`` in one transaction. False when the database cannot be reached (try
        again later). A write the database refuses (a bug: a broken constraint) must not hold
        every other call back: the batch is then committed write by write, and the refused
        ones are logged and left out."""
        if not batch:
            return True
        try:
            await self._execute(batch)
        except (OperationalError, InterfaceError, OSError):
            log.exception("the store could not commit %d writes; trying again", len(batch))
            return False
        except DBAPIError:
            log.exception("the store refused a batch of %d writes; writing one by one", len(batch))
            for write in batch:
                try:
                    await self._execute([write])
                except (OperationalError, InterfaceError, OSError):
                    return False  # the rest of the batch, written ones included, again
                except DBAPIError:
                    log.error("the store refused a write to %s", write[0])
        self.batches += 1
        self.written += len(batch)
        return True

    async def _execute(self, batch: list[Write]) -> None:
        async with self._sessions() as session, session.begin():
            group: list[dict[str, Any]] = []
            statement = batch[0][0]
            for next_statement, params in batch:
                if next_statement is not statement:
                    await session.execute(statement, group)
                    statement, group = next_statement, []
                group.append(params)
            await session.execute(statement, group)
