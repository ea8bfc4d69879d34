"""Call records on the database: :class:`app.calls.repository.CallRepository`.

Reads are queries; what a live call writes as it goes (inputs, events, listing, its end) is
queued for the :class:`app.store.writer.Writer`. Creating a call is awaited until it is durable.
Inserts are idempotent (a write tried again after a failed commit changes nothing twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Insert,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.calls.privacy import mask_encoded, mask_json, mask_text
from app.calls.repository import CallKey, CallQuery, CallRecord, StoredInput, StoreUnavailable
from app.engine.messages import Listing, TranscriptLine
from app.engine.outbox import Earlier
from app.errors import Conflict
from app.store.database import is_sqlite, migrate, sessions, sync_sqlite_engine
from app.store.models import OPEN_TENANT, AlertRow, CallRow, EventRow, InputRow, LineRow
from app.store.postgres import PostgresBatches
from app.store.writer import ThreadBatches, Writer

CALLS: Table = CallRow.__table__  # type: ignore[assignment]
INPUTS: Table = InputRow.__table__  # type: ignore[assignment]
EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
ALERTS: Table = AlertRow.__table__  # type: ignore[assignment]
LINES: Table = LineRow.__table__  # type: ignore[assignment]
#: The keys an event's JSON has before its body's (``Event.to_wire``).
EVENT_HEAD = ("type", "seq", "at_ms")


class SqlCallRepository:
    """Keeps every input and event of a call, to rebuild and resume it: with ``mask_digits``
    (``HUASHU_MASK_DIGITS``), customers' words as stored have their long digit runs masked —
    a fragment's text, every event, an ended call's last state and report."""

    name = "sql"
    keeps_inputs = True

    def __init__(
        self, engine: AsyncEngine, mask_digits: bool = True, max_unstored: int = 500_000
    ) -> None:
        self._mask_digits = mask_digits
        self._max_unstored = max_unstored
        #: The database (also the script library's, ``app.store.documents``).
        self.engine = engine
        self._sessions = sessions(engine)
        self._sqlite = is_sqlite(engine.url.render_as_string(hide_password=False))
        self.name = engine.url.get_backend_name()
        self._insert_call = insert(CALLS)
        self._insert_input = self._idempotent(INPUTS)
        self._insert_event = self._idempotent(EVENTS)
        self._insert_alert = self._idempotent(ALERTS)
        self._insert_line = self._idempotent(LINES)
        self._forget_lines = delete(LINES).where(
            LINES.c.tenant == bindparam("b_tenant"), LINES.c.call_id == bindparam("b_call_id")
        )
        self._update_alert = (
            update(ALERTS)
            .where(
                ALERTS.c.tenant == bindparam("b_tenant"),
                ALERTS.c.call_id == bindparam("b_call_id"),
                ALERTS.c.alert_id == bindparam("b_alert_id"),
            )
            .values(state=bindparam("b_state"))
        )
        listing: dict[str, Any] = {
            "call_type": bindparam("b_call_type"),
            "phase": bindparam("b_phase"),
            "alerts": bindparam("b_alerts"),
        }
        of_call = (
            CALLS.c.tenant == bindparam("b_tenant"),
            CALLS.c.call_id == bindparam("b_call_id"),
        )
        self._progress = update(CALLS).where(*of_call).values(**listing)
        self._finish = (
            update(CALLS)
            .where(*of_call)
            .values(
                **listing,
                ended=True,
                snapshot=bindparam("b_snapshot"),
                report=bindparam("b_report"),
            )
        )
        # The order a batch's writes may be committed in, whatever order they were queued in:
        # rows before what updates them (an alert before its updates, a call's lines before
        # their deletion at its end, its progress before its finish); inserts into different
        # tables are independent (a call's row first: its inputs and events refer to it). Only
        # the purge writes outside the writer.
        order = (
            self._insert_call,
            self._insert_input,
            self._insert_event,
            self._insert_alert,
            self._insert_line,
            self._update_alert,
            self._progress,
            self._finish,
            self._forget_lines,
        )
        url = engine.url.render_as_string(hide_password=False)
        self._writer = Writer(
            ThreadBatches(sync_sqlite_engine(url)) if self._sqlite else PostgresBatches(engine),
            order=order,
        )
        #: Calls created here whose row the writer has not committed yet: found by ``get`` and
        #: ``by_token`` all the same (a client connects right after ``POST /v1/calls``).
        self._creating: dict[CallKey, CallRecord] = {}
        self._creating_tokens: dict[str, CallKey] = {}

    def _idempotent(self, table: Table) -> Insert:
        if self._sqlite:
            return sqlite.insert(table).on_conflict_do_nothing()
        return postgresql.insert(table).on_conflict_do_nothing()

    async def start(self) -> None:
        """Migrate the database forward and start the writer."""
        await migrate(self.engine)
        self._writer.start()

    async def close(self) -> None:
        await self._writer.close()
        await self.engine.dispose()

    # -- reads -----------------------------------------------------------------------------

    async def get(self, key: CallKey) -> CallRecord | None:
        creating = self._creating.get(key)
        if creating is not None:
            return creating
        return await self._one(
            and_(CallRow.tenant == _tenant(key.tenant), CallRow.call_id == key.call_id)
        )

    async def by_token(self, token: str) -> CallRecord | None:
        key = self._creating_tokens.get(token)
        if key is not None:
            return self._creating[key]
        return await self._one(CallRow.token == token)

    async def search(self, query: CallQuery) -> list[CallRecord]:
        statement = (
            select(CallRow)
            .where(CallRow.tenant == _tenant(query.tenant))
            .order_by(CallRow.started_ms, CallRow.call_id)
        )
        if query.agent is not None:
            statement = statement.where(CallRow.agent_id == query.agent)
        if query.script is not None:
            statement = statement.where(CallRow.script_id == query.script)
        if query.call_type is not None:
            statement = statement.where(CallRow.call_type == query.call_type)
        if query.rule is not None:
            standing = select(AlertRow.call_id).where(
                AlertRow.tenant == CallRow.tenant,
                AlertRow.call_id == CallRow.call_id,
                AlertRow.rule == query.rule,
                AlertRow.state != "retracted",
            )
            statement = statement.where(standing.exists())
        if query.since_ms is not None:
            statement = statement.where(CallRow.started_ms >= query.since_ms)
        if query.until_ms is not None:
            statement = statement.where(CallRow.started_ms <= query.until_ms)
        if query.has_alerts is True:
            statement = statement.where(CallRow.alerts > 0)
        elif query.has_alerts is False:
            statement = statement.where(CallRow.alerts == 0)
        if query.after is not None:
            started, call_id = query.after
            statement = statement.where(
                or_(
                    CallRow.started_ms > started,
                    and_(CallRow.started_ms == started, CallRow.call_id > call_id),
                )
            )
        if query.limit is not None:
            statement = statement.limit(query.limit)
        async with self._sessions() as session:
            rows = (await session.scalars(statement)).all()
        return [_record(row) for row in rows]

    async def events(self, key: CallKey, after_seq: int = 0, limit: int | None = None) -> list[str]:
        statement = (
            select(EventRow.body)
            .where(
                EventRow.tenant == _tenant(key.tenant),
                EventRow.call_id == key.call_id,
                EventRow.seq > after_seq,
            )
            .order_by(EventRow.seq)
            .limit(limit)
        )
        async with self._sessions() as session:
            return list((await session.scalars(statement)).all())

    async def earlier(self, key: CallKey, lines: int, alerts: int) -> Earlier:
        tenant = _tenant(key.tenant)
        line_rows = (
            select(LineRow.speaker, LineRow.segment, LineRow.text, LineRow.start_ms, LineRow.end_ms)
            .where(LineRow.tenant == tenant, LineRow.call_id == key.call_id, LineRow.n <= lines)
            .order_by(LineRow.n)
        )
        alert_rows = (
            select(EventRow.body, AlertRow.state)
            .join(
                EventRow,
                and_(
                    EventRow.tenant == AlertRow.tenant,
                    EventRow.call_id == AlertRow.call_id,
                    EventRow.seq == AlertRow.seq,
                ),
            )
            .where(AlertRow.tenant == tenant, AlertRow.call_id == key.call_id)
            .order_by(AlertRow.seq)
            .limit(alerts)
        )
        try:
            async with self._sessions() as session:
                found_lines = (await session.execute(line_rows)).all() if lines else []
                found_alerts = (await session.execute(alert_rows)).all() if alerts else []
        except (OperationalError, InterfaceError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        bodies = []
        for message, state in found_alerts:
            body = orjson.loads(message)
            for head in EVENT_HEAD:
                body.pop(head, None)
            body["state"] = state
            bodies.append(body)
        return Earlier(
            [
                ("agent" if speaker == "agent" else "customer", segment, text, start, end)
                for speaker, segment, text, start, end in found_lines
            ],
            bodies,
        )

    async def unfinished(self) -> list[CallRecord]:
        statement = select(CallRow).where(CallRow.ended.is_(False)).order_by(CallRow.created_ms)
        async with self._sessions() as session:
            return [_record(row) for row in (await session.scalars(statement)).all()]

    async def unfinished_keys(self) -> list[CallKey]:
        statement = (
            select(CALLS.c.tenant, CALLS.c.call_id)
            .where(CALLS.c.ended.is_(False))
            .order_by(CALLS.c.created_ms)
        )
        async with self._sessions() as session:
            rows = (await session.execute(statement)).all()
        return [CallKey(tenant or None, call_id) for tenant, call_id in rows]

    async def inputs(
        self, key: CallKey, after_n: int = 0, limit: int | None = None
    ) -> list[StoredInput]:
        statement = (
            select(InputRow)
            .where(
                InputRow.tenant == _tenant(key.tenant),
                InputRow.call_id == key.call_id,
                InputRow.n > after_n,
            )
            .order_by(InputRow.n)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.scalars(statement)).all()
        return [StoredInput(r.n, r.kind, r.body, r.wall_ms, r.client_seq) for r in rows]

    async def _one(self, where: ColumnElement[bool]) -> CallRecord | None:
        async with self._sessions() as session:
            row = (await session.scalars(select(CallRow).where(where))).first()
        return None if row is None else _record(row)

    # -- writes ----------------------------------------------------------------------------

    async def purge(self, created_before_ms: int) -> int:
        statement = delete(CALLS).where(
            CALLS.c.ended.is_(True), CALLS.c.created_ms < created_before_ms
        )
        async with self._sessions() as session, session.begin():
            result = await session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def add(self, record: CallRecord) -> None:
        """Queued with the call's other writes, not a transaction of its own: a burst of new
        calls (a shift starting) then costs one commit a batch, not one each, waiting for a
        pooled connection and the database's write lock. Its ``start`` is acknowledged once
        the row is committed, as every input is."""
        key = record.key
        # ``get`` finds the calls created here but not committed yet; the second look covers
        # one created here while the store was read.
        if await self.get(key) is not None or key in self._creating:
            raise Conflict(f"call {record.call_id!r} already exists", code="call_exists")
        self._creating[key] = record
        self._creating_tokens[record.token] = key
        self._writer.put(self._insert_call, _call_params(record))
        self._writer.when_durable(lambda: self._created(key))

    def _created(self, key: CallKey) -> None:
        record = self._creating.pop(key, None)
        if record is not None:
            self._creating_tokens.pop(record.token, None)

    @property
    def behind(self) -> bool:
        return self._writer.backlog > self._max_unstored

    def progress(self, key: CallKey, listing: Listing) -> None:
        self._writer.put(self._progress, _listing(key, listing))

    def finish(
        self, key: CallKey, listing: Listing, snapshot: bytes, report: bytes
    ) -> tuple[bytes, bytes]:
        if self._mask_digits:
            snapshot, report = mask_encoded(snapshot), mask_encoded(report)
        params = _listing(key, listing) | {"b_snapshot": snapshot, "b_report": report}
        self._writer.put(self._finish, params)
        # The lines that left memory are in the report now.
        self._writer.put(
            self._forget_lines, {"b_tenant": params["b_tenant"], "b_call_id": key.call_id}
        )
        return snapshot, report

    def record_lines(self, key: CallKey, lines: list[tuple[int, TranscriptLine]]) -> None:
        tenant = _tenant(key.tenant)
        mask = self._mask_digits
        for n, (speaker, segment, text, start_ms, end_ms) in lines:
            self._writer.put(
                self._insert_line,
                {
                    "tenant": tenant,
                    "call_id": key.call_id,
                    "n": n,
                    "speaker": speaker,
                    "segment": segment,
                    "text": mask_text(text) if mask else text,
                    "start_ms": start_ms,
                    "end_ms": end_ms,
                },
            )

    def record_input(
        self,
        key: CallKey,
        n: int,
        kind: str,
        body: Any,
        wall_ms: int,
        client_seq: int | None,
    ) -> None:
        if self._mask_digits and kind == "fragment":
            body["text"] = mask_text(body["text"])
        self._writer.put(
            self._insert_input,
            {
                "tenant": key.tenant or OPEN_TENANT,
                "call_id": key.call_id,
                "n": n,
                "kind": kind,
                "body": body,
                "wall_ms": wall_ms,
                "client_seq": client_seq,
            },
        )

    def record_event(
        self, key: CallKey, seq: int, kind: str, message: str, body: dict[str, Any] | None = None
    ) -> None:
        # ``body`` is not used: what is stored is read from ``message`` once its digits are masked.
        if self._mask_digits:
            message = mask_json(message)
        tenant = key.tenant or OPEN_TENANT
        call_id = key.call_id
        self._writer.put(
            self._insert_event,
            {"tenant": tenant, "call_id": call_id, "seq": seq, "type": kind, "body": message},
        )
        if kind == "alert":
            fields = orjson.loads(message)
            self._writer.put(
                self._insert_alert,
                {
                    "tenant": tenant,
                    "call_id": call_id,
                    "alert_id": fields["id"],
                    "seq": seq,
                    "rule": fields["rule"],
                    "category": fields["category"],
                    "severity": fields["severity"],
                    "state": fields["state"],
                },
            )
        elif kind == "alert_update":
            fields = orjson.loads(message)
            self._writer.put(
                self._update_alert,
                {
                    "b_tenant": tenant,
                    "b_call_id": call_id,
                    "b_alert_id": fields["id"],
                    "b_state": fields["state"],
                },
            )

    def when_durable(self, callback: Callable[[], None]) -> None:
        self._writer.when_durable(callback)

    async def durable(self) -> None:
        await self._writer.durable()


def _tenant(tenant: str | None) -> str:
    """The tenant column of a call of ``tenant`` (None: the open service)."""
    return tenant or OPEN_TENANT


def _listing(key: CallKey, listing: Listing) -> dict[str, Any]:
    return {
        "b_tenant": _tenant(key.tenant),
        "b_call_id": key.call_id,
        "b_call_type": listing.call_type,
        "b_phase": listing.phase,
        "b_alerts": listing.alerts,
    }


def _call_params(record: CallRecord) -> dict[str, Any]:
    """The row of a new call, as the insert's parameters."""
    params = {field.name: getattr(record, field.name) for field in fields(CallRecord)}
    params["tenant"] = _tenant(record.tenant)
    params["setup"] = record.setup or {}
    return params


def _record(row: CallRow) -> CallRecord:
    record = CallRecord(**{field.name: getattr(row, field.name) for field in fields(CallRecord)})
    record.tenant = row.tenant or None
    return record
