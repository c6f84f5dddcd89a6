"""The write floor copies exactly one partition's rows, writes them once, and leaves nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wiring_pipeline.bench import write_floor
from wiring_pipeline.bench.runner import FLOOR_STAGES, PIPELINE_STAGES
from wiring_pipeline.domain.core.tenancy import tenant_filter
from wiring_pipeline_tests.bench.partitions import RECORDS, run_stages


def _partition_rows(conn, scope) -> dict[str, int]:
    return {
        table: conn.execute(
            text(f"SELECT count(*) FROM migration.{table} WHERE {tenant_filter()}"),
            scope.as_params(),
        ).scalar_one()
        for table in write_floor.TABLES
    }


def _scratch_schemas(conn) -> int:
    return conn.execute(
        text("SELECT count(*) FROM pg_namespace WHERE nspname = :name"),
        {"name": write_floor.SCRATCH_SCHEMA},
    ).scalar_one()


@pytest.fixture()
def pipeline_beside_neighbour(engine, three_partitions):
    """The pipeline's partition after its run, beside the floor's partition of the same rows."""
    pipeline_scope, floor_scope, _ = three_partitions
    run_stages(engine, pipeline_scope, PIPELINE_STAGES)
    run_stages(engine, floor_scope, FLOOR_STAGES)
    return pipeline_scope


def test_measure_writes_the_partitions_rows_and_leaves_nothing_behind(
    engine, pipeline_beside_neighbour, tmp_path
):
    steps: list[str] = []
    workdir = tmp_path / "bench"
    workdir.mkdir()
    measured = write_floor.measure(engine, pipeline_beside_neighbour, workdir, steps.append)
    with engine.connect() as conn:
        expected = _partition_rows(conn, pipeline_beside_neighbour)
        schemas = _scratch_schemas(conn)
    assert measured.rows_per_table == expected
    assert expected["raw_import_records"] == RECORDS and expected["assets"] > 0
    assert expected["asset_history"] == 0  # an empty table copies nothing, and that works
    assert measured.seconds > 0
    assert schemas == 0
    assert list(workdir.iterdir()) == []
    assert len(steps) == 2


def test_a_failed_write_still_drops_the_scratch_schema_and_the_files(
    engine, pipeline_beside_neighbour, tmp_path, monkeypatch
):
    def fail(conn, files):
        raise OSError("No space left on device")

    monkeypatch.setattr(write_floor, "write", fail)
    with pytest.raises(OSError, match="No space left"):
        write_floor.measure(engine, pipeline_beside_neighbour, tmp_path, lambda _label: None)
    with engine.connect() as conn:
        assert _scratch_schemas(conn) == 0
    assert not (tmp_path / "write-floor").exists()


def test_the_scratch_tables_carry_the_indexes_and_exactly_the_partitions_rows(
    engine, pipeline_beside_neighbour, tmp_path
):
    scope = pipeline_beside_neighbour
    with engine.connect() as conn:  # never committed: the scratch schema is rolled back
        files = write_floor.copy_out(conn, scope, tmp_path)
        write_floor.create_scratch_tables(conn)
        written = write_floor.write(conn, files)
        for table in write_floor.TABLES:
            ours = f"SELECT * FROM migration.{table} WHERE {tenant_filter()}"
            scratch = f"SELECT * FROM {write_floor.SCRATCH_SCHEMA}.{table}"
            differences = conn.execute(
                text(
                    f"SELECT (SELECT count(*) FROM (({ours}) EXCEPT ALL ({scratch})) d)"
                    f" + (SELECT count(*) FROM (({scratch}) EXCEPT ALL ({ours})) d)"
                ),
                scope.as_params(),
            ).scalar_one()
            assert differences == 0, table
            indexes_per_schema = conn.execute(
                text(
                    "SELECT schemaname, count(*) FROM pg_indexes WHERE tablename = :table"
                    " GROUP BY schemaname"
                ),
                {"table": table},
            ).all()
            counts = dict(indexes_per_schema)
            assert counts[write_floor.SCRATCH_SCHEMA] == counts["migration"] > 0, table
        assert written == _partition_rows(conn, scope)
