"""The service's Prometheus metrics, each set in a ``CollectorRegistry`` of its own.

One :class:`Metrics` belongs to one ``Services`` (one app, worker or CLI run), so two apps in
one process count separately and ``/metrics`` renders only its own app's registry. Nothing is
registered in ``prometheus_client``'s process-global default registry.

Label values must never carry tokens or personal data (creator ids are not used as labels:
unbounded cardinality). Upstream ``endpoint`` values are fixed names, never URLs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The media type of :meth:`Metrics.render`: the Prometheus text format 0.0.4."""

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every metric the library records, registered in ``registry`` (a fresh one by default).

    Components built without a ``Metrics`` get a private one: they still count, nobody scrapes.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        self.session_exchanges = Counter(
            "fanvue_session_exchanges",
            "Session exchanges by outcome.",
            ("outcome",),
            registry=self.registry,
        )
        self.refresh_outcomes = Counter(
            "fanvue_token_refresh",
            "Token refreshes by outcome.",
            ("outcome",),
            registry=self.registry,
        )
        self.lock_waits = Histogram(
            "fanvue_refresh_lock_wait_seconds",
            "Time spent waiting for another worker's refresh.",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "fanvue_upstream_seconds",
            "Latency of calls to Fanvue by endpoint.",
            ("endpoint",),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "fanvue_upstream_errors",
            "Failed calls to Fanvue by endpoint and error code.",
            ("endpoint", "code"),
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "fanvue_webhook_deliveries",
            "Webhook deliveries by outcome.",
            ("outcome",),
            registry=self.registry,
        )
        self.reauthorizations = Counter(
            "fanvue_reauthorization_required",
            "Chains found dead, by reason.",
            ("reason",),
            registry=self.registry,
        )

    def __repr__(self) -> str:
        return f"Metrics(registry=0x{id(self.registry):x})"

    def render(self) -> bytes:
        """This registry in the Prometheus text format (see :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """The current value of one sample (0 when it was never recorded), e.g.
        ``value("fanvue_webhook_deliveries_total", outcome="duplicate")``."""
        sample = self.registry.get_sample_value(name, labels)
        return 0.0 if sample is None else sample

    @contextmanager
    def observe_upstream(self, endpoint: str) -> Iterator[None]:
        """Time one call to Fanvue and count it as an error when it raises.

        ``endpoint`` is a fixed name ("token", "authorize_on_behalf", "api"), never a URL.
        """
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            code = str(getattr(exc, "code", type(exc).__name__))
            self.upstream_errors.labels(endpoint, code).inc()
            raise
        finally:
            self.upstream_latency.labels(endpoint).observe(time.perf_counter() - started)
