"""Sensors that keep the pipeline's partitions and runs in step with the database.

Both read the database in a short transaction of their own and ask Dagster for nothing
they asked for before: partitions are added only when new, and a run's key names its
partition and the set of imports pending there, so a tick repeated after a crash requests
nothing twice.

Both stay far inside the daemon's 60 s budget however many engagements there are (DESIGN
4b): the daemon spends about 10 ms per partition it is asked to add and about 0.3 s per run
it creates, so each tick asks for a bounded number and the rest follows on the next ticks.
"""

import hashlib
from collections.abc import Iterable

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from wiring_pipeline.defs.discovery.jobs import discovery_inventory_job
from wiring_pipeline.defs.partitions import tenant_engagements
from wiring_pipeline.domain.core.tenancy import list_partition_keys
from wiring_pipeline.domain.ingest.loading import pending_imports
from wiring_pipeline.resources import WiringDatabase

#: Partitions added per tick; ten thousand new engagements are onboarded in 20 ticks.
PARTITIONS_PER_TICK = 500
#: Runs (one per partition) requested per tick; the run queue drains slower than this anyway.
RUNS_PER_TICK = 10
#: Keys named in a log line; the rest are counted.
LOGGED_KEYS = 10


def _some(keys: list[str]) -> str:
    shown = ", ".join(keys[:LOGGED_KEYS])
    return shown if len(keys) <= LOGGED_KEYS else f"{shown}, … ({len(keys)} in all)"


@sensor(minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def tenant_engagement_sensor(context: SensorEvaluationContext, wiring_db: WiringDatabase):
    """Add a `tenant_engagements` partition for new engagements, `PARTITIONS_PER_TICK` a tick.

    The known partitions are read once per tick and compared as a set: what was added by
    an earlier tick is known and never requested again.
    """
    with wiring_db.transaction() as conn:
        keys = list_partition_keys(conn)
    known = set(context.instance.get_dynamic_partitions(tenant_engagements.name))
    new = [key for key in keys if key not in known]
    if not new:
        return SkipReason(f"all {len(keys)} engagements already have a partition")
    batch = new[:PARTITIONS_PER_TICK]
    context.log.info(
        f"adding {len(batch)} of {len(new)} new partitions: {_some(batch)}"
        + (f"; {len(new) - len(batch)} follow on the next ticks" if len(new) > len(batch) else "")
    )
    return SensorResult(dynamic_partitions_requests=[tenant_engagements.build_add_request(batch)])


def pending_run_key(partition_key: str, import_ids: Iterable) -> str:
    """The run key of one run for the imports pending in a partition.

    One run loads every pending import of its partition, so the key is the partition and
    its pending set: the same set is never requested twice (nor again after its run, should
    a load step that rolled back leave it pending), and an import registered afterwards
    makes a new set, hence a new run.
    """
    ids = sorted(str(import_id) for import_id in import_ids)
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    return f"pending:{partition_key}:{len(ids)}:{digest}"


@sensor(
    job=discovery_inventory_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
)
def pending_imports_sensor(context: SensorEvaluationContext, wiring_db: WiringDatabase):
    """Request one run of `discovery_inventory_job` per partition with pending imports.

    Only partitions that exist already are requested (`tenant_engagement_sensor` adds
    them); a pending import of another engagement waits for its partition. At most
    `RUNS_PER_TICK` partitions a tick, going round them in key order: the cursor is the
    last partition requested, and the next tick starts after it (from the first again once
    past the last), so every partition gets its turn.
    """
    with wiring_db.transaction() as conn:
        pending = pending_imports(conn)
    known = set(context.instance.get_dynamic_partitions(tenant_engagements.name))
    by_partition: dict[str, list] = {}
    for key, import_id in pending:
        by_partition.setdefault(key, []).append(import_id)
    waiting = sorted(key for key in by_partition if key not in known)
    if waiting:
        context.log.info(f"pending imports wait for partitions: {_some(waiting)}")
    ready = sorted(key for key in by_partition if key in known)
    if not ready:
        return SkipReason("no pending imports in a known partition")
    after = context.cursor or ""
    ordered = [key for key in ready if key > after] + [key for key in ready if key <= after]
    requests = [
        RunRequest(run_key=pending_run_key(key, by_partition[key]), partition_key=key)
        for key in ordered[:RUNS_PER_TICK]
    ]
    return SensorResult(run_requests=requests, cursor=requests[-1].partition_key)
