"""Partitions of the benchmark's input, for the tests of what each approach leaves behind."""

from __future__ import annotations

import pytest

from wiring_pipeline.bench.runner import BIG_SEED, BenchRun
from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline_tests.bench.partitions import RECORDS


@pytest.fixture()
def three_partitions(engine, tmp_path) -> list[TenantScope]:
    """The same messy export imported into three partitions of a migrated database."""
    run = BenchRun(engine, tmp_path, progress=lambda _label: None)
    source = run.write_export("export.csv", BIG_SEED, RECORDS)
    return [
        run.add_partition(key, source, RECORDS).scope
        for key in ("bench.pipeline", "bench.floor", "bench.per-row")
    ]
