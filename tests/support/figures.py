"""Measured figures that tests report (not assert): printed at the end of the run."""

from __future__ import annotations

import statistics

REPORTED: list[str] = []


def report(name: str, samples: list[float], unit: str = "ms", scale: float = 1e3) -> None:
    """Record ``name``: median, p99 (nearest rank) and max of ``samples`` (seconds)."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    REPORTED.append(
        f"figure: {name}: n={len(ordered)} p50={statistics.median(ordered) * scale:.2f} {unit} "
        f"p99={p99 * scale:.2f} {unit} max={ordered[-1] * scale:.2f} {unit}"
    )
