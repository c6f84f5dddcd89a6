"""Loading JSON documents through their flow's records path (DESIGN 3d), and row numbers,
as the file shows them, reaching the messages of the later stages."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sqlalchemy import Engine, insert, text

from wiring_pipeline.db.import_loading import load_pending_imports
from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.core.schema import data_imports
from wiring_pipeline_tests.support import export_shapes
from wiring_pipeline_tests.support.factories import NAME_ONLY, make_flow, make_tenant
from wiring_pipeline_tests.support.loaded_rows import import_row, raw_rows, rejected
from wiring_pipeline_tests.support.pipeline_helpers import register, run_stages

KEY = "acme.documents"


def pending_json_import(engine: Engine, scope, flow: dict, path: Path):
    """A pending import of a JSON file, stored as `import` stores it but not checked against
    the flow, as when the flow's spec changed after the import was registered."""
    stored = path.parent / "imports" / f"{uuid.uuid4()}.json"
    stored.parent.mkdir(exist_ok=True)
    shutil.copyfile(path, stored)
    with engine.begin() as conn:
        return conn.execute(
            insert(data_imports)
            .values(
                id=uuid.uuid4(),
                client_account_id=scope.client_account_id,
                engagement_id=scope.engagement_id,
                filename=path.name,
                status="pending",
                discovery_flow_id=flow["id"],
                stored_path=str(stored),
                file_format="json",
                is_partial=False,
            )
            .returning(data_imports.c.id)
        ).scalar_one()


def test_a_json_document_loads_through_its_flows_records_path(engine, tmp_path):
    shape = export_shapes.ec2_instances(tmp_path)
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=shape.mappings)
    assert flow["records_path"] == export_shapes.EC2_RECORDS_PATH
    import_id = register(engine, scope, flow, shape.path)["id"]

    [loaded], cleansed, _ = run_stages(engine, KEY)

    assert (loaded.status, loaded.loaded_rows, loaded.rejected_rows) == ("loaded", 3, 1)
    assert dict(raw_rows(engine, import_id)) == shape.loaded
    assert [(n, reason) for n, reason, _ in rejected(engine, import_id)] == [
        (4, "Reservations[2].Instances[2] is a JSON str, not an object")
    ]
    assert cleansed.rejected == 0, cleansed.rejected_by_reason
    with engine.connect() as conn:
        assets = conn.execute(
            text("SELECT name, environment, instance_type FROM migration.assets ORDER BY name")
        ).all()
    assert [tuple(a) for a in assets] == [
        ("db-1", "test", "t3.micro"),
        ("i-00000000000000003", "unknown", "t3.micro"),  # untagged: named by its id
        ("web-1", "production", "t3.micro"),
    ]


def test_a_json_document_whose_flow_has_no_records_path_fails_with_the_path_to_give(
    engine, tmp_path
):
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings=NAME_ONLY)
    shape = export_shapes.ec2_instances(tmp_path)
    import_id = pending_json_import(engine, scope, flow, shape.path)
    with partition_transaction(engine, KEY) as work:
        [result] = load_pending_imports(work.conn, work.scope)
    assert result.status == "failed"
    assert result.error.startswith("describe-instances.json: the file is one JSON object")
    assert "'Reservations[].Instances[]'" in result.error and "\n" not in result.error
    assert import_row(engine, import_id).error == result.error


def test_row_numbers_reach_the_duplicate_key_message_as_file_lines(engine, tmp_path):
    scope = make_tenant(engine, KEY)
    flow = make_flow(engine, scope, mappings={**NAME_ONLY, "key": ["Name"]})
    path = tmp_path / "dup.csv"
    path.write_text('Name,Notes\nweb-1,"two\nlines"\n\nweb-1,again\n', encoding="utf-8")
    data_import = register(engine, scope, flow, path)
    run_stages(engine, KEY)
    with engine.connect() as conn:
        notes = conn.execute(
            text(
                "SELECT row_number, processing_notes FROM migration.raw_import_records"
                " WHERE data_import_id = :id ORDER BY row_number"
            ),
            {"id": data_import["id"]},
        ).all()
    assert [tuple(n) for n in notes][1] == (
        5,
        "Rejected: duplicate key 'web-1' (first at row 2)",
    )
