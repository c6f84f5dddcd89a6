"""`wiring_foreign_keys_validated`: whether the database enforces the wiring yet.

It reads pg_constraint itself, so the UI shows the keys' real state (green: every key
validated; red: the keys not validated yet and the partitions still holding orphans).
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from wiring_pipeline.defs.constraints.assets import wiring_foreign_keys
from wiring_pipeline.domain.contract import constraints
from wiring_pipeline.resources import WiringDatabase


@asset_check(
    asset=wiring_foreign_keys,
    name="wiring_foreign_keys_validated",
    description="Every tenant-scoped foreign key exists and is validated.",
)
def wiring_foreign_keys_validated(
    context: AssetCheckExecutionContext, wiring_db: WiringDatabase
) -> AssetCheckResult:
    with wiring_db.transaction() as conn:
        states = constraints.constraint_states(conn)
        pending = {name: state for name, state in states.items() if state != "validated"}
        orphans = constraints.orphans_by_partition(conn) if pending else {}
    return AssetCheckResult(
        passed=not pending,
        severity=AssetCheckSeverity.ERROR,
        description=(
            "all foreign keys validated"
            if not pending
            else f"{len(pending)} foreign key(s) not validated: {pending}"
        ),
        metadata={**states, "partitions_with_orphans": MetadataValue.json(orphans)},
    )
