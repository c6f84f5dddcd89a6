"""One running Dagster stack for the whole e2e session, and the scenario's steps as fixtures.

Each step (register a tenant with the CLI and let the sensors run it, run the backfill,
break the wiring and re-measure it) is a session fixture, so it happens once however many
tests look at its outcome and in whatever order pytest runs them; the tests then assert
what the user would see through the GraphQL API, the alerts file, the webhook and the UI.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from dagster import DagsterRunStatus
from sqlalchemy import text

from wiring_pipeline.defs.backfill.jobs import BACKFILL_RUN_TAG
from wiring_pipeline.defs.partitions import PARTITION_TAG
from wiring_pipeline.domain.core.tenancy import resolve_scope
from wiring_pipeline.domain.health.measure import WiringHealth, measure_wiring_health
from wiring_pipeline.samples.cmdb_generator import CMDB_FIELD_MAPPINGS, iter_cmdb_rows, write_csv
from wiring_pipeline_tests.e2e.dagster_stack import (
    LOCATION_NAME,
    REPOSITORY_NAME,
    DagsterStack,
    StackError,
    WebhookReceiver,
    running_stack,
)

PARTITION_KEY = "e2e-client.wave-1"
IMPORT_ROWS = 40
DISCOVERY_SENSORS = ("tenant_engagement_sensor", "pending_imports_sensor")
BACKFILL_SENSOR = "wiring_health_after_backfill"
ALERT_SENSOR = "wiring_check_alert_sensor"
#: The check the `broken_partition` step makes fail (with `asymmetric_links` as a side effect).
BROKEN_CHECK = "raw_records_with_orphan_asset_ref"


@pytest.fixture(scope="session")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, webhook: WebhookReceiver) -> Iterator:
    """`dagster dev` on a fresh embedded PostgreSQL; after the session, nothing may be left.

    SIGTERM (a CI timeout, `timeout`, `kill`) is turned into KeyboardInterrupt while the
    stack runs, so pytest still tears it down, as it does on Ctrl-C.
    """
    home = tmp_path_factory.mktemp("e2e_home")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with running_stack(home, webhook_url=webhook.url) as running:
            yield running
    finally:
        signal.signal(signal.SIGTERM, previous)
    teardown = running.teardown
    assert teardown is not None and teardown.clean, f"the stack left things behind: {teardown}"


@pytest.fixture(scope="session")
def repository(stack: DagsterStack) -> dict:
    return stack.repository()


def require(repository: dict, *, jobs=(), sensors=()) -> None:
    """Fail with the missing object's name when the code location lacks what a step needs."""
    present = {
        "job": {job["name"] for job in repository["jobs"]},
        "sensor": {sensor["name"] for sensor in repository["sensors"]},
    }
    for kind, names in (("job", jobs), ("sensor", sensors)):
        missing = sorted(set(names) - present[kind])
        if missing:
            pytest.fail(
                f"{kind}(s) {', '.join(missing)} not in the code location "
                "(wiring_pipeline/definitions.py)"
            )


def check_names(repository: dict, asset_name: str) -> list[str]:
    node = next(n for n in repository["assetNodes"] if n["assetKey"]["path"] == [asset_name])
    return sorted(check["name"] for check in node["assetChecksOrError"]["checks"])


def ensure_running(stack: DagsterStack, repository: dict, names: tuple[str, ...]) -> None:
    """Start (through GraphQL, as from the UI) each sensor that is not on by default."""
    require(repository, sensors=names)
    for sensor in stack.repository()["sensors"]:
        if sensor["name"] in names and sensor["sensorState"]["status"] != "RUNNING":
            stack.start_sensor(sensor["name"])
    statuses = {s["name"]: s["sensorState"]["status"] for s in stack.repository()["sensors"]}
    assert all(statuses[name] == "RUNNING" for name in names), statuses


@pytest.fixture(scope="session")
def discovery_sensors(stack: DagsterStack, repository: dict) -> None:
    ensure_running(stack, repository, DISCOVERY_SENSORS)


@pytest.fixture(scope="session")
def alert_sensor(stack: DagsterStack, repository: dict) -> None:
    ensure_running(stack, repository, (ALERT_SENSOR,))


def health_of(stack: DagsterStack, partition_key: str) -> WiringHealth:
    """The partition's metrics, measured straight from the application database."""
    with stack.app_engine().connect() as conn:
        return measure_wiring_health(conn, resolve_scope(conn, partition_key))


@dataclass(frozen=True)
class SensorLaunchedRun:
    partition_key: str
    run: dict
    status: DagsterRunStatus
    #: Raw records, linked ones, rejected ones and inventory assets once the run finished.
    counts: dict[str, int]


def partition_counts(stack: DagsterStack, partition_key: str) -> dict[str, int]:
    with stack.app_engine().connect() as conn:
        scope = resolve_scope(conn, partition_key).as_params()
        row = conn.execute(
            text(
                """SELECT
                     (SELECT count(*) FROM migration.raw_import_records r
                      WHERE r.client_account_id = :client_account_id
                        AND r.engagement_id = :engagement_id) AS raw_records,
                     (SELECT count(*) FROM migration.raw_import_records r
                      WHERE r.client_account_id = :client_account_id
                        AND r.engagement_id = :engagement_id
                        AND r.asset_id IS NOT NULL AND r.is_processed) AS linked,
                     (SELECT count(*) FROM migration.raw_import_records r
                      WHERE r.client_account_id = :client_account_id
                        AND r.engagement_id = :engagement_id AND r.asset_id IS NULL
                        AND r.is_processed AND r.processing_notes LIKE 'Rejected:%') AS rejected,
                     (SELECT count(*) FROM migration.assets a
                      WHERE a.client_account_id = :client_account_id
                        AND a.engagement_id = :engagement_id) AS assets"""
            ),
            scope,
        ).one()
    return dict(row._mapping)


@pytest.fixture(scope="session")
def inventory_run(
    stack: DagsterStack, repository: dict, discovery_sensors: None
) -> SensorLaunchedRun:
    """Register a tenant, a flow and an import with the CLI; the sensors do the rest."""
    require(repository, jobs=["discovery_inventory_job"])
    files = stack.home / "user-files"
    files.mkdir(exist_ok=True)
    mappings = files / "mappings.json"
    mappings.write_text(json.dumps(CMDB_FIELD_MAPPINGS), encoding="utf-8")
    export = files / "cmdb-export.csv"
    write_csv(export, iter_cmdb_rows(seed=7, count=IMPORT_ROWS, prefix="e2e"))

    stack.cli("tenant", "add", PARTITION_KEY, "--client-name", "E2E Client")
    stack.cli(
        "flow", "add", "--partition", PARTITION_KEY, "--mappings", str(mappings), "--name", "cmdb"
    )
    stack.cli("import", str(export), "--partition", PARTITION_KEY, "--flow", "cmdb")

    stack.wait_for(
        lambda: PARTITION_KEY in stack.partition_keys("wiring_health"),
        f"tenant_engagement_sensor to add the partition {PARTITION_KEY}",
    )
    run = stack.wait_for(
        lambda: stack.newest_run("discovery_inventory_job", {PARTITION_TAG: PARTITION_KEY}),
        f"pending_imports_sensor to launch discovery_inventory_job for {PARTITION_KEY}",
    )
    status = stack.wait_for_run(run["runId"])
    return SensorLaunchedRun(PARTITION_KEY, run, status, partition_counts(stack, PARTITION_KEY))


@dataclass(frozen=True)
class BackfillRun:
    partition_key: str
    #: A successful executing run: the fixture fails when the backfill does.
    run_id: str
    #: The `wiring_health_job` run that `wiring_health_after_backfill` requested.
    health_run_id: str
    health_status: DagsterRunStatus
    #: The partition's metrics once that run finished (later steps break them again).
    health_after: WiringHealth


@pytest.fixture(scope="session")
def backfill_run(
    stack: DagsterStack, repository: dict, inventory_run: SensorLaunchedRun
) -> BackfillRun:
    """Give the partition legacy wiring the backfill can repair, then run it for real."""
    require(repository, jobs=["discovery_wiring_backfill", "wiring_health_job"])
    ensure_running(stack, repository, (BACKFILL_SENSOR,))
    key = inventory_run.partition_key
    with stack.app_engine().begin() as conn:
        scope = resolve_scope(conn, key).as_params()
        # Two of the pipeline's assets become what the source plan found: one with only the
        # legacy flow_id, one whose raw record does not link back.
        legacy, one_way = conn.execute(
            text(
                """SELECT a.id FROM migration.assets a
                   WHERE a.client_account_id = :client_account_id
                     AND a.engagement_id = :engagement_id
                   ORDER BY a.id LIMIT 2"""
            ),
            scope,
        ).scalars()
        conn.execute(
            text(
                """UPDATE migration.assets a
                   SET flow_id = f.flow_id, discovery_flow_id = NULL, master_flow_id = NULL
                   FROM migration.discovery_flows f
                   WHERE a.client_account_id = :client_account_id
                     AND a.engagement_id = :engagement_id AND a.id = :id
                     AND f.client_account_id = a.client_account_id
                     AND f.engagement_id = a.engagement_id AND f.id = a.discovery_flow_id"""
            ),
            {**scope, "id": legacy},
        )
        conn.execute(
            text(
                """UPDATE migration.raw_import_records
                   SET asset_id = NULL
                   WHERE client_account_id = :client_account_id
                     AND engagement_id = :engagement_id AND asset_id = :id"""
            ),
            {**scope, "id": one_way},
        )
    broken = health_of(stack, key)
    assert broken.metrics["flow_based_assets_missing_discovery_flow_id"] == 1
    assert broken.metrics["asymmetric_links"] == 1

    run_id = stack.client().submit_job_execution(
        "discovery_wiring_backfill",
        repository_location_name=LOCATION_NAME,
        repository_name=REPOSITORY_NAME,
        run_config={"ops": {"backfill_wiring": {"config": {"dry_run": False}}}},
        tags={PARTITION_TAG: key},
    )
    status = stack.wait_for_run(run_id)
    if status != DagsterRunStatus.SUCCESS:
        raise StackError(
            f"backfill run {run_id} ended {status}:\n{stack.run_failure_summary(run_id)}"
        )
    health_run = stack.wait_for(
        lambda: stack.newest_run("wiring_health_job", {BACKFILL_RUN_TAG: run_id}),
        f"{BACKFILL_SENSOR} to request wiring_health_job after backfill run {run_id}",
    )
    health_status = stack.wait_for_run(health_run["runId"])
    return BackfillRun(key, run_id, health_run["runId"], health_status, health_of(stack, key))


@dataclass(frozen=True)
class BrokenPartition:
    partition_key: str
    run_id: str
    status: DagsterRunStatus
    broken_raw_record_id: uuid.UUID


@pytest.fixture(scope="session")
def broken_partition(
    stack: DagsterStack,
    repository: dict,
    alert_sensor: None,
    backfill_run: BackfillRun,
) -> BrokenPartition:
    """Point one raw record at an asset that does not exist, then re-materialise wiring_health."""
    key = backfill_run.partition_key
    with stack.app_engine().begin() as conn:
        scope = resolve_scope(conn, key).as_params()
        broken = conn.execute(
            text(
                """UPDATE migration.raw_import_records
                   SET asset_id = :missing
                   WHERE id = (SELECT r.id FROM migration.raw_import_records r
                               WHERE r.client_account_id = :client_account_id
                                 AND r.engagement_id = :engagement_id
                                 AND r.asset_id IS NOT NULL
                               ORDER BY r.id LIMIT 1)
                     AND client_account_id = :client_account_id
                     AND engagement_id = :engagement_id
                   RETURNING id"""
            ),
            {**scope, "missing": uuid.uuid4()},
        ).scalar_one()
    run_id = stack.launch_asset_run(
        ["wiring_health"], key, check_names=check_names(repository, "wiring_health")
    )
    status = stack.wait_for_run(run_id)
    return BrokenPartition(key, run_id, status, broken)


def execution_in_run(stack: DagsterStack, check: str, partition_key: str, run_id: str) -> dict:
    """The evaluation of a wiring check for one partition in one run.

    Looked up by run rather than taken as the newest, because later steps of the session
    evaluate the checks again.
    """
    executions = stack.check_executions("wiring_health", check, partition_key, limit=20)
    found = [execution for execution in executions if execution["runId"] == run_id]
    if not found:
        raise StackError(f"no evaluation of {check!r} for {partition_key} in run {run_id}")
    return found[0]
