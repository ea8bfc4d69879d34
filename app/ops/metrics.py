"""Prometheus metrics, in a registry of the app's own (several apps may live in one process).

Per-event work is one counter increment on a cached child: the fan-out path of a fragment does
no label look-ups beyond a dict get.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.engine.messages import Event


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls_started = Counter(
            "huashu_calls_started", "Calls created", registry=self.registry
        )
        self.calls_active = Gauge(
            "huashu_calls_active", "Calls created and not yet ended", registry=self.registry
        )
        self.connections = Gauge(
            "huashu_stream_connections", "Open call stream WebSockets", registry=self.registry
        )
        self.messages = Counter(
            "huashu_messages", "Client messages by type", ["type"], registry=self.registry
        )
        self.errors = Counter(
            "huashu_message_errors",
            "Refused client messages by code",
            ["code"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "huashu_alerts", "Alerts raised by category", ["category"], registry=self.registry
        )
        self.events = Counter(
            "huashu_events",
            "Events published to a call's subscribers, by type",
            ["type"],
            registry=self.registry,
        )
        self.handling = Histogram(
            "huashu_message_seconds",
            "Time from a fragment's arrival to its events published",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
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
        self._events_by_type: dict[str, Counter] = {}
        self._messages_by_type: dict[str, Counter] = {}
        self._errors_by_code: dict[str, Counter] = {}

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

    def call_started(self) -> None:
        self.calls_started.inc()
        self.calls_active.inc()

    def on_event(self, event: Event) -> None:
        """Count one published event; a call's ``report`` is its end."""
        counter = self._events_by_type.get(event.type)
        if counter is None:
            counter = self._events_by_type[event.type] = self.events.labels(event.type)
        counter.inc()
        if event.type == "alert":
            self.alerts.labels(event.body["category"]).inc()
        elif event.type == "report":
            self.calls_active.dec()
