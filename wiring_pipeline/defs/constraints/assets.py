"""`wiring_foreign_keys`: add the tenant-scoped foreign keys NOT VALID, then validate them
once no partition has orphans.

The foreign keys are a property of the schema, not of a partition, so the job materialises
one small non-partitioned asset, `wiring_foreign_keys`, that stands for them: its
materialisation does the work and records each key's state and the partitions still
holding orphans; its check `wiring_foreign_keys_validated` (`checks.py`) reads
pg_constraint itself, so the UI shows at a glance whether the database enforces the wiring
(green) or not yet (red, with the partitions to backfill). Orphans are not a failure of the
job: it adds the keys, says which partitions stop validation, and leaves them NOT VALID until
a later run.
"""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from wiring_pipeline.db import retry, transactions
from wiring_pipeline.domain.contract import constraints
from wiring_pipeline.resources import WiringDatabase


class ConstraintsConfig(Config):
    validate_keys: bool = Field(
        default=True,
        description="VALIDATE CONSTRAINT each key when no partition has orphans.",
    )
    lock_timeout_ms: int = Field(default=retry.DEFAULT_LOCK_TIMEOUT_MS, gt=0)
    max_attempts: int = Field(default=retry.DEFAULT_MAX_ATTEMPTS, gt=0)


def apply_constraints(wiring_db: WiringDatabase, validate: bool, policy: retry.RetryPolicy) -> dict:
    """Add each absent key (one short transaction each), then validate unless orphans remain.

    Returns {"added", "orphans", "validation", "states"}; `validation` is "done",
    "skipped" (not asked for) or "refused" (orphans, listed by partition).
    """
    engine = wiring_db.engine()
    added = []
    for fk in constraints.FOREIGN_KEYS:

        def add(fk: constraints.TenantForeignKey = fk) -> bool:
            with transactions.transaction(engine, policy.lock_timeout_ms) as conn:
                return constraints.add_foreign_key(conn, fk)

        if retry.retrying(policy, f"add {fk.name}", add):
            added.append(fk.name)
    with wiring_db.transaction() as conn:
        orphans = constraints.orphans_by_partition(conn)
    validation = "skipped"
    if validate:
        validation = "refused" if orphans else "done"
    if validation == "done":
        for fk in constraints.FOREIGN_KEYS:

            def check(fk: constraints.TenantForeignKey = fk) -> None:
                with transactions.transaction(engine, policy.lock_timeout_ms) as conn:
                    constraints.validate_foreign_key(conn, fk)

            retry.retrying(policy, f"validate {fk.name}", check)
    with wiring_db.transaction() as conn:
        states = constraints.constraint_states(conn)
    return {"added": added, "orphans": orphans, "validation": validation, "states": states}


@asset(
    name="wiring_foreign_keys",
    group_name="schema",
    kinds={"postgres"},
    description="The tenant-scoped composite foreign keys on the wiring links.",
)
def wiring_foreign_keys(
    context: AssetExecutionContext, config: ConstraintsConfig, wiring_db: WiringDatabase
) -> MaterializeResult:
    policy = retry.RetryPolicy.logged(
        context.log, lock_timeout_ms=config.lock_timeout_ms, max_attempts=config.max_attempts
    )
    report = apply_constraints(wiring_db, config.validate_keys, policy)
    if report["validation"] == "refused":
        context.log.warning(str(constraints.OrphansRemainError(report["orphans"])))
    context.log.info(f"foreign keys: {report['states']}")
    return MaterializeResult(
        metadata={
            **{name: state for name, state in report["states"].items()},
            "validation": report["validation"],
            "added": MetadataValue.json(report["added"]),
            "partitions_with_orphans": MetadataValue.json(report["orphans"]),
            "report": MetadataValue.json(report),
        }
    )
