"""`/metrics`: the latest wiring health of every partition in the Prometheus text format.

The figures come from the stored snapshots (what the nightly pass and every run
measured), read in one query; a scrape never re-measures a partition, so scraping every
15 s costs the database one index walk however many partitions there are.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from wiring_pipeline.domain.health.snapshots import LatestHealth

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _SnapshotCollector:
    """Hands prometheus-client the families built from one scrape's snapshots."""

    def __init__(self, snapshots: list[LatestHealth]) -> None:
        self._snapshots = snapshots

    def collect(self) -> Iterator[GaugeMetricFamily]:
        metric = GaugeMetricFamily(
            "wiring_metric",
            "Rows violating a wiring invariant at the partition's latest measurement",
            labels=["partition", "metric"],
        )
        healthy = GaugeMetricFamily(
            "wiring_partition_healthy",
            "1 when no ERROR metric of the partition's latest measurement is non-zero",
            labels=["partition"],
        )
        measured = GaugeMetricFamily(
            "wiring_snapshot_timestamp_seconds",
            "When the partition's latest measurement was taken (Unix time)",
            labels=["partition"],
        )
        for snapshot in self._snapshots:
            key = snapshot.partition_key
            for name, value in sorted(snapshot.metrics.items()):
                metric.add_metric([key, name], float(value))
            healthy.add_metric([key], 1.0 if snapshot.health_status == "healthy" else 0.0)
            measured.add_metric([key], snapshot.measured_at.timestamp())
        yield from (metric, healthy, measured)


def render_metrics(snapshots: list[LatestHealth]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshots))
    return generate_latest(registry)
