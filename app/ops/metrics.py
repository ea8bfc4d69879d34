"""Prometheus metrics, in a registry of the app's own (several apps may live in one process).

Per-event work is one plain increment on a cached series (``app.ops.series``: what every
message or event moves is kept as plain numbers and read at the scrape; the rest is
prometheus-client's own): the fan-out path of a fragment does no label look-ups beyond a dict
get. Labels are bounded sets: scripts and their rules come from
the library, formats from ``app.asr.DECODERS``, error codes from the code.

The series, for a dashboard (rates are ``rate(…_total[1m])``):

- calls: ``huashu_calls_started_total{script}``, ``huashu_calls_active{script}``;
- connections: ``huashu_stream_connections{format}``;
- fragments: ``huashu_fragments_total{script,format}`` (``rest`` for the REST endpoint);
- alerts: ``huashu_alerts_total{script,category,rule}``, and how long a fragment took from its
  arrival to its alert being published, ``huashu_alert_latency_seconds{format}``;
- bad input: ``huashu_message_errors_total{code}``, and what a connection's decoder could not
  read, ``huashu_decode_errors_total{format,code}``;
- the store: ``huashu_store_write_seconds``, from a client message that asks for an ``ack``
  (or a ``pong``) arriving to it being durable;
- the process: ``huashu_message_seconds`` (a fragment's processing), ``huashu_gc_pause_seconds``.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.calls.repository import CallKey
from app.engine.messages import Event
from app.ops.series import Count, Counts, PlainSeries, Spread, Spreads

#: Sub-millisecond to a second: the engine answers in microseconds, a busy loop in milliseconds.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
#: A group commit takes milliseconds; a database restarting, seconds.
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
#: The script of a call the metrics were not told of (one rebuilt by an older process).
UNKNOWN = "unknown"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls_started = Counter(
            "huashu_calls_started", "Calls created, by script", ["script"], registry=self.registry
        )
        self.calls_active = Gauge(
            "huashu_calls_active",
            "Calls live on this instance and not yet ended, by script",
            ["script"],
            registry=self.registry,
        )
        self.connections = Gauge(
            "huashu_stream_connections",
            "Open call stream WebSockets, by message format",
            ["format"],
            registry=self.registry,
        )
        #: What every message or event moves: plain series (``app.ops.series``), the rest
        #: prometheus-client's own.
        plain = PlainSeries(self.registry)
        self.messages = Counts("huashu_messages", "Client messages by type", ["type"])
        self.errors = Counter(
            "huashu_message_errors",
            "Refused client messages by code",
            ["code"],
            registry=self.registry,
        )
        self.decode_errors = Counter(
            "huashu_decode_errors",
            "Frames a connection's decoder refused, by format and code",
            ["format", "code"],
            registry=self.registry,
        )
        self.fragments = Counts(
            "huashu_fragments",
            "Fragments given to the engine, by script and format",
            ["script", "format"],
        )
        self.alerts = Counts(
            "huashu_alerts",
            "Alerts raised, by script, category and rule",
            ["script", "category", "rule"],
        )
        self.alert_latency = Spreads(
            "huashu_alert_latency_seconds",
            "From a fragment's arrival to the alert it raised being published, by format",
            ["format"],
            buckets=LATENCY_BUCKETS,
        )
        store_write = Spreads(
            "huashu_store_write_seconds",
            "From a client message asking for an ack or pong arriving to it being durable",
            buckets=STORE_BUCKETS,
        )
        self.events = Counts(
            "huashu_events", "Events published to a call's subscribers, by type", ["type"]
        )
        handling = Spreads(
            "huashu_message_seconds",
            "Time from a fragment's arrival to its events published",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        for family in (
            self.messages,
            self.fragments,
            self.alerts,
            self.alert_latency,
            store_write,
            self.events,
            handling,
        ):
            plain.add(family)
        plain.register()
        self.store_write = store_write.labels()
        self.handling = handling.labels()
        #: The collector's pauses: a full collection walks every live call, and its pause is
        #: what a long window's p99.9 is made of (BENCHMARKS.md). Observed by :meth:`gc_phase`
        #: once the app registers it in ``gc.callbacks``.
        self.gc_pauses = Histogram(
            "huashu_gc_pause_seconds",
            "Garbage-collector pauses, by generation collected",
            ["generation"],
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self._gc_by_generation = [self.gc_pauses.labels(str(g)) for g in range(3)]
        self._gc_started = 0.0
        self._events_by_type: dict[str, Count] = {}
        self._messages_by_type: dict[str, Count] = {}
        self._errors_by_code: dict[str, Counter] = {}
        self._decode_errors: dict[tuple[str, str], Counter] = {}
        self._fragments: dict[tuple[str, str], Count] = {}
        self._alerts: dict[tuple[str, str, str], Count] = {}
        self._latency: dict[str, Spread] = {}
        #: The script of each live call, for the labels of its alerts and its end.
        self._scripts: dict[CallKey, str] = {}

    def gc_phase(self, phase: str, info: dict[str, Any]) -> None:
        """A ``gc.callbacks`` entry: time each collection from its start to its stop."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._gc_started
            self._gc_by_generation[info["generation"]].observe(pause)

    def message(self, kind: str) -> None:
        """Count one client message of a known type (a cached child: no label look-up)."""
        counter = self._messages_by_type.get(kind)
        if counter is None:
            counter = self._messages_by_type[kind] = self.messages.labels(kind)
        counter.inc()

    def refused(self, code: str) -> None:
        counter = self._errors_by_code.get(code)
        if counter is None:
            counter = self._errors_by_code[code] = self.errors.labels(code)
        counter.inc()

    def decode_error(self, fmt: str, code: str) -> None:
        """A frame the connection's decoder (``fmt``) refused with ``code``."""
        key = (fmt, code)
        counter = self._decode_errors.get(key)
        if counter is None:
            counter = self._decode_errors[key] = self.decode_errors.labels(fmt, code)
        counter.inc()

    def fragment_counter(self, script: str, fmt: str) -> Count:
        """The counter of fragments of ``script``'s calls in ``fmt``: a connection keeps it."""
        key = (script, fmt)
        counter = self._fragments.get(key)
        if counter is None:
            counter = self._fragments[key] = self.fragments.labels(script, fmt)
        return counter

    def alert_latency_of(self, fmt: str) -> Spread:
        """The alert latency histogram of ``fmt``: a connection keeps it."""
        histogram = self._latency.get(fmt)
        if histogram is None:
            histogram = self._latency[fmt] = self.alert_latency.labels(fmt)
        return histogram

    def call_started(self, call: CallKey | None = None, script: str = UNKNOWN) -> None:
        self.calls_started.labels(script).inc()
        self.call_live(call, script)

    def call_live(self, call: CallKey | None, script: str) -> None:
        """A call (``call``: its key, tenant and id) is live here (created, or rebuilt after a
        restart) until its report."""
        if call is not None:
            self._scripts[call] = script
        self.calls_active.labels(script).inc()

    def call_gone(self, call: CallKey) -> None:
        """A call live here moved to another instance before its end."""
        script = self._scripts.pop(call, None)
        if script is not None:
            self.calls_active.labels(script).dec()

    def on_event(self, event: Event, call: CallKey | None = None) -> None:
        """Count one published event of the call ``call``; a call's ``report`` is its end."""
        kind = event.type
        counter = self._events_by_type.get(kind)
        if counter is None:
            counter = self._events_by_type[kind] = self.events.labels(kind)
        counter.inc()
        if kind == "alert":
            body = event.body
            key = (
                UNKNOWN if call is None else self._scripts.get(call, UNKNOWN),
                body["category"],
                body["rule"],
            )
            alerts = self._alerts.get(key)
            if alerts is None:
                alerts = self._alerts[key] = self.alerts.labels(*key)
            alerts.inc()
        elif kind == "report":
            script = None if call is None else self._scripts.pop(call, None)
            if script is None:
                script = event.body.get("script", {}).get("id", UNKNOWN)
            self.calls_active.labels(script).dec()
