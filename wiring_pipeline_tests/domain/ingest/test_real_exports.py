"""Every shape of issue 12 loads every row with the right values, counted exactly.

For each generated export: source rows = raw records + rejected rows, the raw records hold
the decoded cells (mapped columns keyed as the mapping spells them), the import records the
encoding it was read with, and the rows reach the inventory.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from wiring_pipeline.domain.health.measure import measure_wiring_health
from wiring_pipeline_tests.support import export_shapes
from wiring_pipeline_tests.support.factories import make_flow, make_tenant
from wiring_pipeline_tests.support.pipeline_helpers import register, run_stages

KEY = "acme.exports"


def accounting(engine: Engine, import_id) -> dict:
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT * FROM migration.data_imports WHERE id = :id"), {"id": import_id}
        ).one()
        raw = dict(
            conn.execute(
                text(
                    "SELECT row_number, raw_data FROM migration.raw_import_records"
                    " WHERE data_import_id = :id"
                ),
                {"id": import_id},
            ).all()
        )
        rejected = dict(
            conn.execute(
                text(
                    "SELECT row_number, reason FROM migration.import_rejected_rows"
                    " WHERE data_import_id = :id"
                ),
                {"id": import_id},
            ).all()
        )
    return {"import": stored, "raw": raw, "rejected": rejected}


@pytest.mark.parametrize("shape_name", sorted(export_shapes.SHAPES))
def test_every_row_of_every_shape_is_accounted_for(engine, tmp_path, shape_name):
    shape = export_shapes.SHAPES[shape_name](tmp_path)
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=shape.mappings)
    data_import = register(engine, scope, flow, shape.path)
    assert data_import["encoding"] == shape.encoding
    assert data_import["sheet_name"] == shape.sheet_name

    [loaded], cleansed, inventory = run_stages(engine, KEY)

    found = accounting(engine, data_import["id"])
    assert loaded.status == "loaded", loaded.error
    assert found["import"].total_records == shape.source_rows
    assert len(found["raw"]) + len(found["rejected"]) == shape.source_rows
    assert found["raw"] == shape.loaded
    assert set(found["rejected"]) == set(shape.rejected)
    for row_number, fragment in shape.rejected.items():
        assert fragment in found["rejected"][row_number]
    assert cleansed.rejected == 0, cleansed.rejected_by_reason
    assert inventory.created == len(shape.loaded)


def test_accented_values_reach_the_inventory_decoded(engine, tmp_path):
    shape = export_shapes.windows_1252_semicolon(tmp_path)
    scope = make_tenant(engine, KEY)
    register(engine, scope, make_flow(engine, scope, mappings=shape.mappings), shape.path)
    run_stages(engine, KEY)
    with engine.connect() as conn:
        assets = conn.execute(text("SELECT name, owner FROM migration.assets ORDER BY name")).all()
        health = measure_wiring_health(conn, scope)
    assert [tuple(a) for a in assets] == [
        ("café-db", "Zoë Ça"),
        ("plain-web", "Bob"),
        ("srv-müller-01", "Jürgen Müller"),
    ]
    assert health.metrics["source_rows_not_in_inventory"] == 0


def run_shape(engine: Engine, shape: export_shapes.Shape, columns: str):
    """Register and run a shape; its cleansing result and, per asset, `columns` and the
    archive's `_invalid` (as `invalid`)."""
    scope = make_tenant(engine, KEY)
    register(engine, scope, make_flow(engine, scope, mappings=shape.mappings), shape.path)
    _, cleansed, _ = run_stages(engine, KEY)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT {columns}, c.cleansed_values -> '_invalid' AS invalid"
                " FROM migration.assets a JOIN migration.cleansed_record_archive c"
                " ON c.raw_import_record_id = a.raw_import_records_id ORDER BY a.name"
            )
        ).all()
    return cleansed, rows


def test_numbers_in_local_spellings(engine, tmp_path):
    shape = export_shapes.decimal_commas(tmp_path)
    cleansed, rows = run_shape(engine, shape, "a.name, a.memory_gb")
    memory = {row.name: (row.memory_gb, row.invalid) for row in rows}
    assert {name: float(m) for name, (m, _) in memory.items() if m is not None} == {
        "srv-1": 7.5,
        "srv-2": 1024.5,
        "srv-3": 1024.0,
        "srv-6": 2048000.0,
        "srv-7": 16.0,
    }
    assert memory["srv-4"] == (
        None,
        {"memory_gb": {"value": "1,024", "reason": "ambiguous thousands separator"}},
    )
    assert memory["srv-5"] == (None, {"memory_gb": {"value": "lots", "reason": "not a number"}})
    assert cleansed.invalid_values == {
        "memory_gb: ambiguous thousands separator": 1,
        "memory_gb: not a number": 1,
    }


def test_excel_errors_and_merged_cells_in_the_inventory(engine, tmp_path):
    shape = export_shapes.messy_workbook(tmp_path)
    cleansed, rows = run_shape(engine, shape, "a.name, a.environment, a.memory_gb, a.cpu_cores")
    assert [(r.name, r.environment, r.cpu_cores) for r in rows] == [
        ("srv-1", "production", 8),
        ("srv-2", "production", 2),
    ]
    assert rows[1].memory_gb is None
    assert rows[1].invalid == {"memory_gb": {"value": "#N/A", "reason": "Excel error value"}}
    assert cleansed.invalid_values == {"memory_gb: Excel error value": 1}
