"""What a load stored for one import: its raw records, its rejected rows, its import row."""

from __future__ import annotations

from sqlalchemy import Engine, text


def raw_rows(engine: Engine, import_id) -> list[tuple[int, dict]]:
    with engine.connect() as conn:
        return [
            (row.row_number, row.raw_data)
            for row in conn.execute(
                text(
                    "SELECT row_number, raw_data FROM migration.raw_import_records"
                    " WHERE data_import_id = :id ORDER BY row_number"
                ),
                {"id": import_id},
            )
        ]


def rejected(engine: Engine, import_id) -> list[tuple[int, str, str]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT row_number, reason, raw_text FROM migration.import_rejected_rows"
                    " WHERE data_import_id = :id ORDER BY row_number"
                ),
                {"id": import_id},
            )
        ]


def import_row(engine: Engine, import_id):
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT * FROM migration.data_imports WHERE id = :id"), {"id": import_id}
        ).one()
