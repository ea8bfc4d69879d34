"""The tables. Queries live in ``app.store.repository``; only the writer and the repository's
awaited writes commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


#: The tenant column of the open service's calls (no API keys): a key column cannot be NULL.
OPEN_TENANT = ""


class CallRow(Base):
    """One call: who it belongs to, what a list shows of it, how to rebuild it (``setup``), and
    once ended its last live state and report (encoded JSON). A call is its tenant's: the key
    is (tenant, call id), so two tenants may each have a call of the same id."""

    __tablename__ = "calls"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    script_id: Mapped[str] = mapped_column(String(64))
    script_version: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[str | None] = mapped_column(String(128), index=True)
    #: Epoch ms the call was created (also the wall time its session was made at).
    created_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    #: The call's own start: its ring time when the platform gave one, else its creation. Calls
    #: are listed by it (a call replayed days later is listed at its own time).
    started_ms: Mapped[int] = mapped_column(BigInteger)
    call_type: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16))
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    ended: Mapped[bool] = mapped_column(default=False, index=True)
    #: The engine's ``CallSetup`` as JSON: with the inputs, what rebuilds the call.
    setup: Mapped[dict[str, Any]] = mapped_column(JSON)
    snapshot: Mapped[bytes | None] = mapped_column(LargeBinary)
    report: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Which script and lexicon versions the call runs on (``app.scripts.service.Pins``).
    pins: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("token", name="uq_calls_token"),
        # A tenant's calls in the order they are listed.
        Index("ix_calls_tenant_started_ms", "tenant", "started_ms", "call_id"),
    )


def _of_call(table: str) -> ForeignKeyConstraint:
    """A row of a call (its tenant and call id), deleted with it."""
    return ForeignKeyConstraint(
        ["tenant", "call_id"],
        ["calls.tenant", "calls.call_id"],
        ondelete="CASCADE",
        name=f"fk_{table}_call",
    )


class InputRow(Base):
    """One input the engine processed, in order, with the wall time it was given: replayed in
    order they rebuild the call exactly (the engine reads no clock)."""

    __tablename__ = "call_inputs"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``fragment``, ``event`` or ``tick`` (a timer firing).
    kind: Mapped[str] = mapped_column(String(8))
    body: Mapped[Any] = mapped_column(JSON, nullable=True)
    wall_ms: Mapped[int] = mapped_column(BigInteger)
    #: The client's ``seq`` for the message, if it had one.
    client_seq: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (_of_call("call_inputs"),)


class EventRow(Base):
    """One event the call published, as sent (encoded JSON)."""

    __tablename__ = "call_events"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (_of_call("call_events"),)


class AlertRow(Base):
    """Every alert a call raised, as it stands (``state`` follows its ``alert_update``)."""

    __tablename__ = "alerts"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))

    __table_args__ = (_of_call("alerts"),)


class LineRow(Base):
    """A line of a live call's transcript that left the engine's memory
    (``HUASHU_TRANSCRIPT_WINDOW``), numbered from 1: read back for the call's report, then
    deleted (the ended call's report holds them)."""

    __tablename__ = "call_lines"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    speaker: Mapped[str] = mapped_column(String(16))
    segment: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    start_ms: Mapped[int | None] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (_of_call("call_lines"),)


class DocumentRow(Base):
    """A script or lexicon, one row per version (the shared library's tenant is "")."""

    __tablename__ = "documents"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_ms: Mapped[int] = mapped_column(BigInteger)
