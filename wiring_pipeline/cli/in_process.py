"""Running the code location's jobs from the shell, in process, on the configured instance.

The command line (`run`, `backfill`, `constraints`, `demo`) goes through the same Dagster
jobs as the UI, so every run it makes is recorded on the PostgreSQL-backed instance and
shows in the UI with its checks, and the run id is the one the audit tables name.
"""

from __future__ import annotations

import os

from dagster import DagsterEventType, DagsterInstance, ExecuteInProcessResult

from wiring_pipeline import embedded
from wiring_pipeline.definitions import defs
from wiring_pipeline.partitions import tenant_engagements


def run_in_process(
    job_name: str,
    partition_key: str | None = None,
    run_config: dict | None = None,
    tags: dict | None = None,
) -> ExecuteInProcessResult:
    """Run one job of the code location in this process, recorded on the configured instance.

    Adds the dynamic partition first if the sensor has not yet; failures are in the result,
    not raised. The console shows warnings and errors only (WIRING_LOG_LEVEL changes that);
    the instance keeps every event, for the UI.
    """
    level = os.environ.get("WIRING_LOG_LEVEL", "WARNING").upper()
    run_config = {"loggers": {"console": {"config": {"log_level": level}}}, **(run_config or {})}
    embedded.prepare_dagster_environment()
    with DagsterInstance.get() as instance:
        if partition_key is not None and not instance.has_dynamic_partition(
            tenant_engagements.name, partition_key
        ):
            instance.add_dynamic_partitions(tenant_engagements.name, [partition_key])
        return defs.resolve_job_def(job_name).execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=partition_key,
            tags=tags,
            raise_on_error=False,
        )


def report_of(result: ExecuteInProcessResult, node: str) -> dict | None:
    """The JSON `report` metadata that a step attached to its output or materialisation."""
    for event in result.events_for_node(node):
        if event.is_successful_output:
            metadata = event.step_output_data.metadata
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.step_materialization_data.materialization.metadata
        else:
            continue
        if "report" in metadata:
            return metadata["report"].value
    return None


def failure_summary(result: ExecuteInProcessResult) -> str:
    """Which steps failed and which checks did not pass, for a one-line error."""
    steps = sorted({e.step_key for e in result.all_events if e.is_step_failure and e.step_key})
    checks = sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)
    parts = [f"failed step(s): {', '.join(steps)}"] if steps else []
    if checks:
        parts.append(f"failed check(s): {', '.join(checks)}")
    return "; ".join(parts) or "see the run's logs"
