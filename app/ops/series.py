"""Counters and histograms for the per-message path, kept as plain numbers and exposed through a
prometheus-client collector (the library's way to expose values it does not own).

prometheus-client's own ``Counter.inc`` takes a lock and ``Histogram.observe`` a lock per bucket
search: ~0.55 and ~1.2 µs here, four to six of them per fragment. The event loop is the only
writer of these, so a plain ``+=`` is enough (~0.1 µs); a scrape reads them between two of the
loop's steps, or from another thread a value at most one increment old. Exposed as prometheus
-client's own would be (``_total``; ``_bucket``/``_count``/``_sum``), less the ``_created``
series.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

#: A series of a family: a :class:`Count` or a :class:`Spread`.
S = TypeVar("S")


class Count:
    """One series of a :class:`Counts` family."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class Spread:
    """One series of a :class:`Spreads` family: how many observations fell in each bucket."""

    __slots__ = ("_bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        #: Observations at or below each bound (not cumulative), the last one past them all.
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self._bounds, value)] += 1
        self.total += value


class _Family(Generic[S]):
    """Series by label values, each made on first use by ``make``."""

    def __init__(
        self, name: str, documentation: str, labels: Iterable[str], make: Callable[[], S]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labels)
        self._make = make
        self._series: dict[tuple[str, ...], S] = {}

    def labels(self, *values: str) -> S:
        """The series of ``values`` (one per label name), made on first use."""
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: {len(self.labelnames)} label values expected")
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = self._make()
        return series


class Counts(_Family[Count]):
    """A counter family: one :class:`Count` per set of label values."""

    def __init__(self, name: str, documentation: str, labels: Iterable[str] = ()) -> None:
        super().__init__(name, documentation, labels, Count)

    def metric(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in list(self._series.items()):
            family.add_metric(values, series.value)
        return family


class Spreads(_Family[Spread]):
    """A histogram family: one :class:`Spread` per set of label values."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: Iterable[str] = (),
        *,
        buckets: Iterable[float],
    ) -> None:
        bounds = tuple(sorted(float(b) for b in buckets))
        super().__init__(name, documentation, labels, lambda: Spread(bounds))
        self.bounds = bounds

    def metric(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        les = [*(floatToGoString(b) for b in self.bounds), "+Inf"]  # type: ignore[no-untyped-call]
        for values, series in list(self._series.items()):
            counts = list(series.counts)  # one copy: a consistent cumulative run
            running = 0
            buckets = []
            for le, count in zip(les, counts, strict=True):
                running += count
                buckets.append((le, float(running)))
            family.add_metric(values, buckets, series.total)
        return family


class PlainSeries(Collector):
    """The families above, in a registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._families: list[Counts | Spreads] = []
        self._registry = registry

    def add(self, family: Counts | Spreads) -> None:
        self._families.append(family)

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield family.metric()

    def register(self) -> None:
        """Register with the registry once every family is added (the registry asks for the
        names then, and refuses one taken twice)."""
        self._registry.register(self)
