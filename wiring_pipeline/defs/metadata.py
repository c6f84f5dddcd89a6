"""Metadata the Dagster UI understands: tables as `MetadataValue.table`, and the catalog keys.

Previews, check samples and reports are small lists of rows; a pandas frame turns them
into a typed table in one step (its dtypes give the `TableSchema`), where hand-written
markdown lost the types and could not be sorted in the UI. Frames here hold at most a few
dozen rows: a partition is never read into memory (DESIGN section 4.3).

`catalog_metadata` gives an asset its `dagster/table_name` and `dagster/column_schema`
(from the SQLAlchemy table, so the catalog lists the real columns before any run), and
`row_count` its `dagster/row_count` after each materialisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
from dagster import (
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableRecord,
    TableSchema,
)
from sqlalchemy import Table

#: pandas dtype kind -> Dagster column type.
_TYPES = {"i": "int", "u": "int", "f": "float", "b": "bool"}


def frame_table(frame: pd.DataFrame) -> MetadataValue:
    """A frame as a table with its schema; values become plain str/int/float/bool/None.

    NUMERIC columns arrive as Decimal objects: they become floats, and `convert_dtypes`
    keeps an integer column with NULLs an integer column (not float with NaN).
    """
    frame = frame.apply(_decimals_as_floats).convert_dtypes()
    schema = TableSchema(
        columns=[
            TableColumn(str(name), _TYPES.get(frame[name].dtype.kind, "string"))
            for name in frame.columns
        ]
    )
    cleaned = frame.astype(object).where(frame.notna(), None)
    records = [
        TableRecord({str(k): _plain(v) for k, v in row.items()})
        for row in cleaned.to_dict(orient="records")
    ]
    return MetadataValue.table(records, schema)


def rows_table(rows: Sequence[dict], columns: Sequence[str]) -> MetadataValue:
    """A list of row dicts as a table, with `columns` in this order (also when empty)."""
    return frame_table(pd.DataFrame(list(rows), columns=list(columns)))


def _decimals_as_floats(column: pd.Series) -> pd.Series:
    values = column.dropna()
    if len(values) and all(isinstance(v, Decimal) for v in values):
        return column.astype(float)
    return column


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # a numpy scalar
        return value.item()
    return str(value)


def column_schema(table: Table) -> TableSchema:
    """The columns of a database table, with their SQL types and nullability."""
    return TableSchema(
        columns=[
            TableColumn(
                column.name,
                str(column.type),
                description=column.comment,
                constraints=TableColumnConstraints(nullable=column.nullable),
            )
            for column in table.columns
        ]
    )


def catalog_metadata(table: Table) -> dict:
    """Definition metadata of an asset stored in `table`: its name and columns."""
    return {
        "dagster/table_name": f"{table.schema}.{table.name}",
        "dagster/column_schema": column_schema(table),
    }


def row_count(count: int) -> dict:
    """Materialisation metadata: the partition's rows in the asset's table."""
    return {"dagster/row_count": MetadataValue.int(count)}
