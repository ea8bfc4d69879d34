"""Settings: environment variables with the prefix HUASHU_ (and a .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Built once and passed to ``create_app``; tests build their own."""

    model_config = SettingsConfigDict(env_prefix="HUASHU_", env_file=".env", extra="ignore")

    #: Where calls are kept: ``database`` (``database_url``), or ``memory`` (this process only:
    #: a restart loses every call; for benchmarks and throwaway runs).
    store: Literal["database", "memory"] = "database"
    #: SQLAlchemy URL of the store: an SQLite file (made and migrated on first start) or
    #: ``postgresql+asyncpg://user@host/db``.
    database_url: str = "sqlite+aiosqlite:///./data/huashu.db"
    #: Ended calls (records, inputs, events, reports) are deleted this many days after they
    #: began; 0 keeps them forever. Customers' words are personal data: keep them no longer
    #: than the quality team needs them.
    retention_days: int = Field(default=90, ge=0, le=36_500)
    #: Store long digit runs (phone, ID and card numbers) masked (``app/calls/privacy.py``).
    mask_digits: bool = True
    #: A call with no input from its client for this long is cut off: it ends with a report
    #: that says so (0: never). Calls hold memory and a timer; a client that died must not
    #: keep them for ever.
    idle_call_timeout_s: float = Field(default=1800, ge=0, le=86_400)
    #: A call rebuilt after a restart whose client has not come back within this long is cut
    #: off the same way (0: never).
    reconnect_timeout_s: float = Field(default=300, ge=0, le=86_400)
    #: Several instances (or ``--workers``): Redis for the live event streams and the calls'
    #: ownership leases (``redis://host:6379/0``). Unset: one process, in-process bus.
    redis_url: str | None = None
    #: What every Redis key of this deployment starts with (several deployments on one Redis).
    redis_prefix: str = Field(default="huashu:", min_length=1, max_length=64)
    #: Events a live call's Redis stream keeps, about (older ones are the store's to replay).
    redis_stream_maxlen: int = Field(default=4096, ge=16, le=1_000_000)
    #: How long an instance's hold on a call outlives the instance: after its death, another
    #: instance takes the call over this long after the last renewal at most.
    lease_ttl_s: float = Field(default=5.0, ge=0.5, le=300)
    #: ``tenant-a:key1,tenant-b:key2``; unset means open (for local use only).
    api_keys: str | None = None
    timezone: str = "Asia/Shanghai"
    scripts_dir: Path = REPO / "scripts_data"
    #: Where the normalizer's and the sound-alike tables are kept between starts (seconds of
    #: start-up each, the same on every start of one installation: ``app/engine/tables.py``).
    #: Empty: built on every start. A directory that cannot be written is logged and ignored.
    cache_dir: Path | None = Path("./data/cache")
    host: str = "127.0.0.1"
    port: int = 8000
    max_message_bytes: int = Field(default=65_536, gt=0)
    #: A WebSocket frame beyond this is not read at all: the socket closes with 1009 (frames
    #: between ``max_message_bytes`` and this get a ``too_large`` error and stay open).
    max_frame_bytes: int = Field(default=4 * 1024 * 1024, gt=0, le=64 * 1024 * 1024)
    #: Events that may wait for a stream peer that does not read; one more and it is closed
    #: (1008, "too slow"), so a stuck listener holds a bounded amount of memory.
    max_pending_events: int = Field(default=512, ge=1, le=100_000)
    #: A request's head (request line and headers: a WebSocket handshake too) must be complete
    #: this long after the connection opened or, on a kept connection, after its first byte;
    #: else the connection is closed (408). Nothing else times out a client that sends half a
    #: request, or nothing, and holds its connection for ever.
    header_timeout_s: float = Field(default=10, gt=0, le=300)
    #: An idle keep-alive connection is closed this long after its last response (uvicorn's
    #: ``timeout_keep_alive``).
    keep_alive_timeout_s: int = Field(default=5, ge=1, le=3600)
    #: A REST request body beyond this is refused with 413 before it is read.
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, le=64 * 1024 * 1024)
    #: Serve clients beyond this machine with no API keys configured (open to anyone who can
    #: reach it). Without keys the service answers only loopback clients unless this is set.
    insecure: bool = False
    #: Per tenant (the open service counts as one): open stream connections, calls live at
    #: once, client messages a second (``app/ops/quotas.py``). Past one, a connection closes
    #: with 4429, a call is refused with 429 ``too_many_calls``, a message gets an error
    #: ``rate_limited`` and is not processed (nor acknowledged: resend it later).
    max_connections_per_tenant: int = Field(default=50_000, ge=1)
    max_live_calls_per_tenant: int = Field(default=50_000, ge=1)
    max_messages_per_s_per_tenant: float = Field(default=50_000, gt=0)
    #: Writes that may wait for the database (down, or slower than the calls): past it new
    #: inputs are refused with ``store_unavailable`` until it catches up.
    max_unstored_writes: int = Field(default=500_000, ge=100, le=100_000_000)
    #: Script and lexicon versions a tenant may store a minute (PUT; a minute's burst).
    max_library_writes_per_min_per_tenant: int = Field(default=60, ge=1, le=1_000_000)
    #: Browsers' ``Origin`` the stream accepts (comma-separated); unset: any (clients that
    #: are no browser send none). A handshake from another origin closes with 4403.
    allowed_origins: str | None = None
    max_text_chars: int = Field(default=4_096, gt=0)
    #: Characters of its segment an alert carries on either side of its match (its ``text``):
    #: the words around the phrase, not the whole segment once per alert.
    alert_context_chars: int = Field(default=40, ge=0, le=4_096)
    #: New alerts one fragment may raise; hits past it wait for the segment's next hypothesis.
    #: A fragment of one phrase said over and over raises this many, not hundreds.
    max_alerts_per_fragment: int = Field(default=16, ge=1, le=4_096)
    #: Characters of one customer final the intent check (complaint, unclear purpose) reads at
    #: most: a longer final is judged by its first and last half of this. The check's cost
    #: grows with the text (~2 ms at 1,000 characters, ~12 at 4,096).
    intent_max_chars: int = Field(default=512, ge=2, le=65_536)
    #: A fragment's ``start_ms``/``end_ms`` count from the answer: at most this many hours.
    max_call_hours: float = Field(default=24, gt=0, le=24 * 7)
    #: An explicit time (``at``, ``ring_at``) must be within this many days of now.
    time_window_days: float = Field(default=366, gt=0, le=3660)
    #: With ``store=memory``: ended calls kept in memory for their reports and ``resume``
    #: (those that ended first are dropped first). With a database, ended calls leave memory.
    keep_ended_calls: int = Field(default=10_000, ge=0)
    #: With ``store=memory``: what the ended calls kept take at most (bytes: their events,
    #: last state and report, about), those that ended first dropped first. A count alone
    #: does not bound memory: one call's events can be megabytes.
    keep_ended_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    #: With a database: a live call keeps its last ``event_window`` to twice that many events
    #: in memory for ``resume``; older ones are read from the store.
    event_window: int = Field(default=256, ge=1, le=1_000_000)
    #: With a database: a live call keeps the last ``transcript_window`` lines of its
    #: transcript (final segments) in memory; older ones are written to the store and read
    #: back for its report when it ends. A call's memory then does not grow with its length.
    transcript_window: int = Field(default=256, ge=1, le=1_000_000)
    #: With a database: a live call keeps its last ``alert_window`` alerts in memory; older
    #: ones (every alert is stored as it is sent) are read back for its live state and report.
    alert_window: int = Field(default=64, ge=1, le=1_000_000)
    #: On SIGTERM, ``huashu serve`` waits this long for open requests and connections to finish
    #: before it cancels them and shuts down (uvicorn's ``timeout_graceful_shutdown``): an
    #: orchestrator's own grace period (Docker: 10 s, Kubernetes: 30 s) must be longer.
    shutdown_timeout_s: int = Field(default=10, ge=0, le=600)
    #: The collector's young-generation threshold while serving (CPython's: 700): how many more
    #: objects may be allocated than freed between two young collections. Larger makes the
    #: collector's pauses rarer and each longer: at 1,000 calls 20,000 halves the alert's p99
    #: and lengthens its p99.9 (BENCHMARKS.md, *The collector*).
    gc_young_threshold: int = Field(default=700, ge=100, le=1_000_000)
    #: uvicorn's log level for ``huashu serve``.
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    #: uvicorn's access log: a line per HTTP request and per WebSocket handshake (and, at
    #: ``info``, one as each WebSocket opens and closes).
    access_log: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("api_keys")
    @classmethod
    def _keys_parse(cls, value: str | None) -> str | None:
        if value:
            for item in value.split(","):
                tenant, sep, key = item.strip().partition(":")
                if not sep or not tenant or not key:
                    raise ValueError("api_keys must read tenant:key,tenant:key")
        return value or None

    @property
    def tenants_by_key(self) -> dict[str, str]:
        """API key → tenant; empty when auth is open."""
        if not self.api_keys:
            return {}
        pairs = (item.strip().partition(":") for item in self.api_keys.split(","))
        return {key: tenant for tenant, _, key in pairs}
