"""Per-tenant bounds, so one tenant's client — a plugin gone wrong, a script in a loop — cannot
take every agent's assistant down: open stream connections, live calls, messages a second (a
token bucket) and new script and lexicon versions a minute. The open service (no keys) counts
as one tenant. Each bound is a setting (``HUASHU_MAX_CONNECTIONS_PER_TENANT``,
``HUASHU_MAX_LIVE_CALLS_PER_TENANT``, ``HUASHU_MAX_MESSAGES_PER_S_PER_TENANT``,
``HUASHU_MAX_LIBRARY_WRITES_PER_MIN_PER_TENANT``)."""

from __future__ import annotations

import time
from collections import Counter

from app.errors import HuashuError

#: What a message past its tenant's rate is told (on the stream and over REST).
RATE_LIMITED = "too many messages a second for this tenant: not processed; send it again later"


class TooMany(HuashuError):
    """A tenant's bound is reached: try again later (HTTP 429; the socket closes with 4429)."""

    code = "too_many"
    status = 429


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class _Rate:
    """A token bucket per tenant: ``per_s`` tokens a second, up to ``burst`` at once."""

    def __init__(self, per_s: float, burst: float) -> None:
        self._per_s = per_s
        self._burst = burst
        self._buckets: dict[str | None, _Bucket] = {}

    def take(self, tenant: str | None) -> bool:
        """Take one token from ``tenant``'s bucket; False when it is empty (refuse)."""
        now = time.monotonic()
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = self._buckets[tenant] = _Bucket(self._burst, now)
        tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._per_s)
        bucket.stamp = now
        if tokens < 1:
            bucket.tokens = tokens
            return False
        bucket.tokens = tokens - 1
        return True


class Quotas:
    def __init__(
        self,
        max_connections: int,
        max_calls: int,
        messages_per_s: float,
        library_writes_per_min: int = 60,
    ) -> None:
        self.max_connections = max_connections
        self.max_calls = max_calls
        #: A burst of up to one second's messages is taken at once.
        self._messages = _Rate(messages_per_s, messages_per_s)
        #: New script and lexicon versions: each is stored for good (calls name the version
        #: they ran on), so a client in a loop would grow the database without end. A burst of
        #: a minute's writes at once.
        self.library_writes_per_min = library_writes_per_min
        self._library_writes = _Rate(library_writes_per_min / 60, library_writes_per_min)
        self._connections: Counter[str | None] = Counter()

    def connect(self, tenant: str | None) -> None:
        """Count a new stream connection of ``tenant``; raises :class:`TooMany` past the bound."""
        if self._connections[tenant] >= self.max_connections:
            raise TooMany(
                f"at most {self.max_connections} stream connections per tenant are open",
                code="too_many_connections",
            )
        self._connections[tenant] += 1

    def disconnect(self, tenant: str | None) -> None:
        self._connections[tenant] -= 1
        if self._connections[tenant] <= 0:
            del self._connections[tenant]

    def start_call(self, tenant: str | None, live: int) -> None:
        """Whether ``tenant``, with ``live`` calls live, may start one more; raises TooMany."""
        if live >= self.max_calls:
            raise TooMany(
                f"at most {self.max_calls} calls per tenant are live at once",
                code="too_many_calls",
            )

    def message(self, tenant: str | None) -> bool:
        """Take one message from ``tenant``'s bucket; False when it is empty (refuse it)."""
        return self._messages.take(tenant)

    def library_write(self, tenant: str | None) -> None:
        """Count a new script or lexicon version of ``tenant``; raises :class:`TooMany` past
        its rate."""
        if not self._library_writes.take(tenant):
            raise TooMany(
                f"at most {self.library_writes_per_min} script and lexicon versions a minute "
                "per tenant are stored: send it again later",
                code="too_many_writes",
            )
