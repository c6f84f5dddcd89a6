"""The size of the benchmark tests' partitions, and running an approach's stages on one."""

from __future__ import annotations

from sqlalchemy import Engine

from wiring_pipeline.bench.runner import STAGES
from wiring_pipeline.domain.core.tenancy import TenantScope

RECORDS = 300


def run_stages(engine: Engine, scope: TenantScope, stages: dict) -> None:
    """Every stage of `stages` on the partition, each one unit of work."""
    for stage in STAGES:
        with engine.begin() as conn:
            stages[stage](conn, scope)
