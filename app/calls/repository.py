"""Call records: what the service knows of a call apart from the live engine.

A :class:`CallRecord` is plain data — who the call belongs to, what a list of calls shows of it,
and once it has ended its last live state and its report, encoded. The live call (engine, timer,
subscribers) is the runner's (``app.calls.live``); a record never holds it.

:class:`CallRepository` is the interface the service relies on; :class:`MemoryCallRepository`
keeps the records in this process (the embedded default). A database-backed repository
implements the same interface and is chosen in :func:`make_repository` — the one place a backend
is registered.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import orjson

from app.calls.privacy import mask_encoded
from app.config import Settings
from app.engine.messages import Listing, TranscriptLine
from app.engine.outbox import NOTHING_EARLIER, Earlier
from app.errors import Conflict


class CallKey(NamedTuple):
    """A call's identity. Call ids are their tenant's own: two tenants may each have a call
    ``c1`` at once, and one never learns that the other's exists. ``tenant`` None is the open
    service (no API keys configured), a tenant of its own."""

    tenant: str | None
    call_id: str

    @property
    def channel(self) -> str:
        """The call's name on the bus, unique across tenants (a call id has no ``/``, and no
        tenant is named ``""``)."""
        return f"{self.tenant or ''}/{self.call_id}"

    @classmethod
    def of_channel(cls, channel: str) -> CallKey:
        """The key of the call whose channel is ``channel`` (the inverse of ``channel``)."""
        tenant, call_id = channel.rsplit("/", 1)
        return cls(tenant or None, call_id)


@dataclass(slots=True)
class CallRecord:
    call_id: str
    tenant: str | None
    token: str
    script_id: str
    script_version: int
    agent_id: str | None
    created_ms: int
    call_type: str
    phase: str
    alerts: int = 0
    ended: bool = False
    #: The engine's ``CallSetup`` as JSON (``app.calls.replay``): with the stored inputs, what
    #: rebuilds the call after a restart.
    setup: dict[str, Any] | None = None
    #: The call's own start: its ring time when the platform gave one, else ``created_ms``.
    started_ms: int = 0
    #: The script and lexicon versions the call runs on (``app.scripts.service.Pins``).
    pins: dict[str, Any] | None = None
    #: Once ended: the call's last live state (``GET /v1/calls/{id}``) and its report, encoded.
    snapshot: bytes | None = None
    report: bytes | None = None

    @property
    def key(self) -> CallKey:
        return CallKey(self.tenant, self.call_id)

    def summary(self) -> dict[str, Any]:
        """The call as ``GET /v1/calls`` lists it."""
        return {
            "call_id": self.call_id,
            "script": {"id": self.script_id, "version": self.script_version},
            "agent_id": self.agent_id,
            "call_type": self.call_type,
            "phase": self.phase,
            "created_at_ms": self.created_ms,
            "alerts": self.alerts,
            "ended": self.ended,
        }

    def follow(self, listing: Listing) -> None:
        """Take the listing fields of the live call."""
        self.call_type = listing.call_type
        self.phase = listing.phase
        self.alerts = listing.alerts


class StoreUnavailable(Exception):
    """The store cannot be reached now (a database restarting): try again later."""


@dataclass(frozen=True, slots=True)
class StoredInput:
    """One input a call's engine processed, as stored: ``kind`` is ``fragment``, ``event`` or
    ``tick`` (a timer firing); ``body`` the input as JSON; ``wall_ms`` the wall time the engine
    was given with it."""

    n: int
    kind: str
    body: Any
    wall_ms: int
    client_seq: int | None


#: Where a page of calls ends: (started_ms, call_id) of its last call.
Position = tuple[int, str]


@dataclass(frozen=True, slots=True)
class CallQuery:
    """The filters of ``GET /v1/calls``: the calls of ``tenant`` (None: the open service's;
    a tenant never lists another's), and for the others None is no filter. Times are epoch ms,
    on the call's own start (``CallRecord.started_ms``). Calls come in the order of their start
    (then id), at most ``limit`` of them, after ``after`` (the position a previous page ended
    at)."""

    tenant: str | None = None
    agent: str | None = None
    script: str | None = None
    call_type: str | None = None
    #: Calls with a standing (not retracted) alert of this rule.
    rule: str | None = None
    has_alerts: bool | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int | None = None
    after: Position | None = None

    def matches(self, record: CallRecord, rules: Collection[str] = ()) -> bool:
        """Whether ``record`` (whose standing alerts are of ``rules``) passes the filters."""
        return (
            record.tenant == self.tenant
            and (self.agent is None or record.agent_id == self.agent)
            and (self.script is None or record.script_id == self.script)
            and (self.call_type is None or record.call_type == self.call_type)
            and (self.rule is None or self.rule in rules)
            and (self.since_ms is None or record.started_ms >= self.since_ms)
            and (self.until_ms is None or record.started_ms <= self.until_ms)
            and (self.has_alerts is None or (record.alerts > 0) == self.has_alerts)
            and (self.after is None or (record.started_ms, record.call_id) > self.after)
        )


class EndedEvents(Protocol):
    """Where the in-memory store's calls' events are kept (the bus: their only copy), so that
    an ended call's events leave with its record."""

    def size(self, channel: str) -> int:
        """About how many bytes the channel's events take (0: none held)."""
        ...

    def forget(self, channel: str) -> None:
        """Let go of the channel's events."""
        ...


class CallRepository(Protocol):
    """Call records. Reads are awaited; the two writes a live call makes as it goes
    (:meth:`progress`, :meth:`finish`) return at once — a store queues them for its writer —
    so the engine's output never waits on storage. A store is handed what the call said and
    sent as it is, and with ``HUASHU_MASK_DIGITS`` masks the long digit runs of whatever text
    it keeps (``app.calls.privacy``)."""

    #: What ``/readyz`` calls this backend.
    name: str
    #: Whether it keeps a call's inputs and events (to rebuild and resume it): when not, the
    #: service does not make their stored form at all.
    keeps_inputs: bool

    @property
    def behind(self) -> bool:
        """More writes wait for the database than ``HUASHU_MAX_UNSTORED_WRITES`` (it is down or
        too slow): new inputs are refused (``store_unavailable``) until it catches up, so that
        what waits for it cannot grow without end."""
        ...

    async def add(self, record: CallRecord) -> None:
        """Store a new call; raises :class:`Conflict` (``call_exists``) for a key its tenant
        already has."""
        ...

    async def get(self, key: CallKey) -> CallRecord | None: ...

    async def by_token(self, token: str) -> CallRecord | None: ...

    async def search(self, query: CallQuery) -> list[CallRecord]:
        """The calls that match, in the order of their start (then id)."""
        ...

    def progress(self, key: CallKey, listing: Listing) -> None:
        """The live call's listing fields changed (phase, call type, alerts standing)."""
        ...

    def finish(
        self, key: CallKey, listing: Listing, snapshot: bytes, report: bytes
    ) -> tuple[bytes, bytes]:
        """The call has ended: its final listing, last live state and report. Returns the
        last two as stored, what a read of the call gives once the write is durable."""
        ...

    def record_input(
        self, key: CallKey, n: int, kind: str, body: Any, wall_ms: int, client_seq: int | None
    ) -> None:
        """The call's engine processed its ``n``-th input (see :class:`StoredInput`); only
        a store that ``keeps_inputs`` is handed them."""
        ...

    def record_event(
        self, key: CallKey, seq: int, kind: str, message: str, body: dict[str, Any] | None = None
    ) -> None:
        """The call published event ``seq`` (``message``: as sent); an ``alert`` or an
        ``alert_update`` also keeps the call's alerts as they stand. A store that does not
        ``keeps_inputs`` is handed only those two. ``body``: the event's own fields, when the
        caller has them (the engine's ``Event.body``: what ``message`` says besides its type,
        seq and time), so that a store that needs only those need not read ``message`` again."""
        ...

    def record_lines(self, key: CallKey, lines: list[tuple[int, TranscriptLine]]) -> None:
        """Transcript lines of the live call that left the engine's memory, numbered (only
        a store that ``keeps_inputs`` is handed them: the service gives its calls' engines
        windows only then). A line stored already is left as it is."""
        ...

    async def earlier(self, key: CallKey, lines: int, alerts: int) -> Earlier:
        """The call's first ``lines`` transcript lines (of those :meth:`record_lines` had)
        and its first ``alerts`` alerts as they stand now, from what is durable: what left
        its engine's memory. Fewer when the store lost some. Raises
        :class:`StoreUnavailable` when the store cannot be reached."""
        ...

    def when_durable(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once everything written so far is durable (at once, if it is)."""
        ...

    async def durable(self) -> None:
        """Until everything written so far is durable."""
        ...

    async def events(self, key: CallKey, after_seq: int = 0, limit: int | None = None) -> list[str]:
        """The call's stored events after ``after_seq``, as sent, at most ``limit`` of them
        (empty where the store keeps none: the in-memory one leaves them to the bus)."""
        ...

    async def unfinished(self) -> list[CallRecord]:
        """The calls that had not ended when the service stopped (to rebuild at start-up)."""
        ...

    async def unfinished_keys(self) -> list[CallKey]:
        """The keys of :meth:`unfinished`'s calls, and nothing else of them: what an instance
        checks every few seconds for calls nobody holds, with every call of every instance in
        it."""
        ...

    async def inputs(
        self, key: CallKey, after_n: int = 0, limit: int | None = None
    ) -> list[StoredInput]:
        """The call's stored inputs after its ``after_n``-th, in order, at most ``limit``."""
        ...

    async def start(self) -> None:
        """Connect (and migrate) before the first request."""
        ...

    async def purge(self, created_before_ms: int) -> int:
        """Delete the ended calls created before ``created_before_ms`` (records, inputs,
        events, reports); how many were deleted."""
        ...

    async def close(self) -> None: ...


#: What an ended call's record costs besides its snapshot, report and events: the record, its
#: places in the maps, its alerts' rules and states (about: tracemalloc gives 1.7 KB for one
#: with three alerts).
RECORD_BYTES = 2_048


class MemoryCallRepository:
    """Records in a dict. Ended calls are kept while they are at most ``keep_ended``
    (``HUASHU_KEEP_ENDED_CALLS``) and take at most ``keep_ended_bytes``
    (``HUASHU_KEEP_ENDED_BYTES``: their snapshot, report and, from ``events``, their events);
    past either, those that ended first are let go first, their events with them. Live calls
    are never let go. The only text kept is an ended call's last state and report (masked with
    ``mask_digits``): of an alert, only its rule and state, so nothing is masked per message."""

    name = "memory"
    keeps_inputs = False
    #: Nothing waits for a database.
    behind = False

    def __init__(
        self,
        keep_ended: int = 10_000,
        keep_ended_bytes: int = 256 * 1024 * 1024,
        events: EndedEvents | None = None,
        mask_digits: bool = True,
    ) -> None:
        self._mask_digits = mask_digits
        self._calls: dict[CallKey, CallRecord] = {}
        self._tokens: dict[str, CallKey] = {}
        #: The ended calls, those that ended first first, with what each takes (bytes).
        self._ended: OrderedDict[CallKey, int] = OrderedDict()
        self._ended_bytes = 0
        self._keep_ended = keep_ended
        self._keep_ended_bytes = keep_ended_bytes
        self._events = events
        #: Each call's alerts: id → (rule, state), for listing calls by rule.
        self._alerts: dict[CallKey, dict[str, tuple[str, str]]] = {}

    async def add(self, record: CallRecord) -> None:
        key = record.key
        if key in self._calls:
            raise Conflict(f"call {record.call_id!r} already exists", code="call_exists")
        # What rebuilds a call after a restart is of no use to a store a restart empties.
        record.setup = record.pins = None
        self._calls[key] = record
        self._tokens[record.token] = key

    async def get(self, key: CallKey) -> CallRecord | None:
        return self._calls.get(key)

    async def by_token(self, token: str) -> CallRecord | None:
        key = self._tokens.get(token)
        return None if key is None else self._calls.get(key)

    async def search(self, query: CallQuery) -> list[CallRecord]:
        found = sorted(
            (
                record
                for key, record in self._calls.items()
                if query.matches(record, self._standing_rules(key))
            ),
            key=lambda record: (record.started_ms, record.call_id),
        )
        return found if query.limit is None else found[: query.limit]

    def _standing_rules(self, key: CallKey) -> set[str]:
        alerts = self._alerts.get(key, {})
        return {rule for rule, state in alerts.values() if state != "retracted"}

    def progress(self, key: CallKey, listing: Listing) -> None:
        record = self._calls.get(key)
        if record is not None:
            record.follow(listing)

    def finish(
        self, key: CallKey, listing: Listing, snapshot: bytes, report: bytes
    ) -> tuple[bytes, bytes]:
        if self._mask_digits:
            snapshot, report = mask_encoded(snapshot), mask_encoded(report)
        record = self._calls.get(key)
        if record is None:
            return snapshot, report
        record.follow(listing)
        record.ended = True
        record.snapshot = snapshot
        record.report = report
        record.setup = record.pins = None  # only an unfinished call is ever rebuilt
        if key in self._ended:
            return snapshot, report
        size = len(snapshot) + len(report) + RECORD_BYTES
        if self._events is not None:
            size += self._events.size(key.channel)
        self._ended[key] = size
        self._ended_bytes += size
        while self._ended and (
            len(self._ended) > self._keep_ended or self._ended_bytes > self._keep_ended_bytes
        ):
            oldest = next(iter(self._ended))
            self._drop(oldest)
        return snapshot, report

    @property
    def ended_bytes(self) -> int:
        """What the ended calls kept take, about (bytes)."""
        return self._ended_bytes

    # Nothing to rebuild after a restart: inputs and events are not kept here (the bus keeps
    # the events for resume), and everything is as durable as it will be at once.

    def record_input(
        self, key: CallKey, n: int, kind: str, body: Any, wall_ms: int, client_seq: int | None
    ) -> None:
        pass

    def record_event(
        self, key: CallKey, seq: int, kind: str, message: str, body: dict[str, Any] | None = None
    ) -> None:
        if kind == "alert" or kind == "alert_update":
            if body is None:
                body = orjson.loads(message)
            alerts = self._alerts.setdefault(key, {})
            if kind == "alert":
                alerts[body["id"]] = (body["rule"], body["state"])
            elif body["id"] in alerts:
                alerts[body["id"]] = (alerts[body["id"]][0], body["state"])

    def record_lines(self, key: CallKey, lines: list[tuple[int, TranscriptLine]]) -> None:
        pass

    async def earlier(self, key: CallKey, lines: int, alerts: int) -> Earlier:
        """Nothing: an engine whose store is this one keeps everything in memory."""
        return NOTHING_EARLIER

    def when_durable(self, callback: Callable[[], None]) -> None:
        callback()

    async def durable(self) -> None:
        pass

    async def events(self, key: CallKey, after_seq: int = 0, limit: int | None = None) -> list[str]:
        return []

    async def unfinished(self) -> list[CallRecord]:
        return []

    async def unfinished_keys(self) -> list[CallKey]:
        return []

    async def inputs(
        self, key: CallKey, after_n: int = 0, limit: int | None = None
    ) -> list[StoredInput]:
        return []

    async def start(self) -> None:
        pass

    async def purge(self, created_before_ms: int) -> int:
        expired = [key for key in self._ended if self._calls[key].created_ms < created_before_ms]
        for key in expired:
            self._drop(key)
        return len(expired)

    def _drop(self, key: CallKey) -> None:
        """Let an ended call go: its record, token, alerts and events."""
        self._ended_bytes -= self._ended.pop(key, 0)
        record = self._calls.pop(key, None)
        if record is not None:
            self._tokens.pop(record.token, None)
        self._alerts.pop(key, None)
        if self._events is not None:
            self._events.forget(key.channel)

    async def close(self) -> None:
        self._calls.clear()
        self._tokens.clear()
        self._ended.clear()
        self._ended_bytes = 0
        self._alerts.clear()


def make_repository(settings: Settings, events: EndedEvents | None = None) -> CallRepository:
    """The repository the settings ask for: the database at ``HUASHU_DATABASE_URL``, or with
    ``HUASHU_STORE=memory`` none (everything in this process, lost with it; ``events``: where
    the calls' events are, let go with the ended calls)."""
    if settings.store == "memory":
        return MemoryCallRepository(
            keep_ended=settings.keep_ended_calls,
            keep_ended_bytes=settings.keep_ended_bytes,
            events=events,
            mask_digits=settings.mask_digits,
        )
    from app.store.database import make_engine
    from app.store.repository import SqlCallRepository

    return SqlCallRepository(
        make_engine(settings.database_url),
        settings.mask_digits,
        max_unstored=settings.max_unstored_writes,
    )
