"""A small in-process metrics registry rendered in the Prometheus text format.

Counters and histograms with fixed label names; no third-party dependency because we need
only the text exposition, not a client library. Label values must never carry tokens or
personal data (creator ids are not used as labels: unbounded cardinality).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

__all__ = ["REGISTRY", "Counter", "Histogram", "Registry", "observe_upstream"]

_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {labels}")
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(labels, 0.0)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.documentation}"
        yield f"# TYPE {self.name} counter"
        with self._lock:
            items = sorted(self._values.items())
        for labels, value in items:
            yield f"{self.name}{_labels(self.labelnames, labels)} {value:g}"


class Histogram:
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = _DEFAULT_BUCKETS,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {labels}")
        with self._lock:
            counts, totals = self._series.setdefault(labels, ([0] * len(self.buckets), [0.0, 0.0]))
            for index, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[index] += 1
            totals[0] += 1
            totals[1] += value

    def count(self, *labels: str) -> int:
        with self._lock:
            series = self._series.get(labels)
            return int(series[1][0]) if series else 0

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.documentation}"
        yield f"# TYPE {self.name} histogram"
        with self._lock:
            items = sorted((k, (list(c), list(t))) for k, (c, t) in self._series.items())
        for labels, (counts, (count, total)) in items:
            for bound, bucket_count in zip(self.buckets, counts, strict=True):
                le = 'le="' + ("+Inf" if math.isinf(bound) else f"{bound:g}") + '"'
                yield f"{self.name}_bucket{_labels(self.labelnames, labels, le)} {bucket_count}"
            inf = 'le="+Inf"'
            yield f"{self.name}_bucket{_labels(self.labelnames, labels, inf)} {count:g}"
            yield f"{self.name}_sum{_labels(self.labelnames, labels)} {total:g}"
            yield f"{self.name}_count{_labels(self.labelnames, labels)} {count:g}"


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, Counter | Histogram] = {}

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        metric = self._metrics.setdefault(name, Counter(name, documentation, labelnames))
        assert isinstance(metric, Counter)
        return metric

    def histogram(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Histogram:
        metric = self._metrics.setdefault(name, Histogram(name, documentation, labelnames))
        assert isinstance(metric, Histogram)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted(self._metrics):
            lines.extend(self._metrics[name].render())
        return "\n".join(lines) + "\n"


REGISTRY = Registry()

SESSION_EXCHANGES = REGISTRY.counter(
    "fanvue_session_exchanges_total", "Session exchanges by outcome.", ("outcome",)
)
REFRESH_OUTCOMES = REGISTRY.counter(
    "fanvue_token_refresh_total", "Token refreshes by outcome.", ("outcome",)
)
LOCK_WAITS = REGISTRY.histogram(
    "fanvue_refresh_lock_wait_seconds", "Time spent waiting for another worker's refresh."
)
UPSTREAM_LATENCY = REGISTRY.histogram(
    "fanvue_upstream_seconds", "Latency of calls to Fanvue by endpoint.", ("endpoint",)
)
UPSTREAM_ERRORS = REGISTRY.counter(
    "fanvue_upstream_errors_total",
    "Failed calls to Fanvue by endpoint and error code.",
    ("endpoint", "code"),
)
WEBHOOK_DELIVERIES = REGISTRY.counter(
    "fanvue_webhook_deliveries_total", "Webhook deliveries by outcome.", ("outcome",)
)
REAUTHORIZATIONS = REGISTRY.counter(
    "fanvue_reauthorization_required_total", "Chains found dead, by reason.", ("reason",)
)


@contextmanager
def observe_upstream(endpoint: str) -> Iterator[None]:
    """Time one call to Fanvue and count it as an error when it raises.

    ``endpoint`` is a fixed name ("token", "authorize_on_behalf", "api"), never a URL.
    """
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        UPSTREAM_ERRORS.inc(endpoint, str(getattr(exc, "code", type(exc).__name__)))
        raise
    finally:
        UPSTREAM_LATENCY.observe(time.perf_counter() - started, endpoint)
