"""The service's Prometheus metrics, each set in a ``CollectorRegistry`` of its own.

One :class:`Metrics` belongs to one ``Services`` (one app, worker or CLI run), so two apps in
one process count separately and ``/metrics`` renders only its own app's registry. Nothing is
registered in ``prometheus_client``'s process-global default registry.

Several worker processes (``serve --workers N``) use ``prometheus_client``'s multiprocess mode:
``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, every worker writes its
values to files there, and :meth:`Metrics.render` sums every worker's files, so a scrape shows
the service's totals whichever worker answers it. Process metrics (``process_*``: memory, CPU,
open files) belong to one process: they are rendered in single-process mode only.

Label values must never carry tokens or personal data (creator ids are not used as labels:
unbounded cardinality). Upstream ``endpoint`` values are fixed names, never URLs.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

__all__ = [
    "CONTENT_TYPE",
    "MULTIPROCESS_VARIABLE",
    "Metrics",
    "multiprocess_directory",
    "multiprocess_mode",
]

logger = logging.getLogger("fanvue_embedded.metrics")

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""Set (by ``serve --workers N``, or by you) before ``prometheus_client`` is first imported in
a worker process: its values then live in files in that directory, shared by every worker."""


def multiprocess_directory() -> str | None:
    """The multiprocess directory when this process runs in multiprocess mode, else ``None``."""
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The media type of :meth:`Metrics.render`: the Prometheus text format 0.0.4."""


@contextmanager
def multiprocess_mode(workers: int) -> Iterator[str | None]:
    """Around serving with ``workers`` processes: a fresh ``PROMETHEUS_MULTIPROC_DIR`` (yielded)
    that the workers inherit, removed afterwards. One worker needs none (``None``); a directory
    you set yourself is used as it is and left in place."""
    if workers <= 1:
        yield multiprocess_directory()
        return
    given = multiprocess_directory()
    if given is not None:
        logger.info("metrics: %d workers share the multiprocess directory %s", workers, given)
        yield given
        return
    directory = tempfile.mkdtemp(prefix="fanvue-embedded-metrics-")
    os.environ[MULTIPROCESS_VARIABLE] = directory
    logger.info("metrics: %d workers share the multiprocess directory %s", workers, directory)
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROCESS_VARIABLE, None)
        shutil.rmtree(directory, ignore_errors=True)


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
        # HTTP requests the app answered: ``route`` is the route's template ("/api/me"), never
        # the raw path (no ids, no unbounded cardinality); "unmatched" when no route took it.
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ("method", "route"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.http_in_progress = Gauge(
            "http_requests_in_progress",
            "HTTP requests being answered now.",
            ("method",),
            registry=self.registry,
            multiprocess_mode="livesum",  # summed over the workers alive now
        )
        ProcessCollector(registry=self.registry)

    def __repr__(self) -> str:
        return f"Metrics(registry=0x{id(self.registry):x})"

    def render(self) -> bytes:
        """The metrics in the Prometheus text format (see :data:`CONTENT_TYPE`): this registry,
        or in multiprocess mode the sum over every worker's files."""
        if multiprocess_directory() is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return generate_latest(combined)

    def mark_process_dead(self) -> None:
        """In multiprocess mode, drop this process's live gauges: the worker is stopping."""
        if multiprocess_directory() is not None:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

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
