"""What `import --check` tells a person about a file (DESIGN 3f): one problem per row and
column, from the reasons the load and the cleansing stored.

The check rehearses the real load and cleansing in a transaction that is rolled back
(`db/import_check.py`), so its verdicts are the pipeline's own; this module only reads back
what they left for one import and says it in a person's terms: the row as the file shows it,
the source column to fix, a short code a script can sort on, and a message. The reason
texts are the readers' and the cleansing's; `REASONS` is the one place that turns them into
codes and columns, so a new reason is one line here (an unknown one still shows, under the
stage's fallback code).
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text, update

from wiring_pipeline.domain.contract.flow_spec import FlowSpec
from wiring_pipeline.domain.core.schema import data_imports
from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter
from wiring_pipeline.domain.ingest.registry import DISCARDED

#: Server-side cursor batch: a file whose every row is rejected streams its problems.
FETCH_ROWS = 2_000

#: A quoted column name as the readers write it (`{column!r}`).
_QUOTED = r"(?P<cell>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"


@dataclass(frozen=True)
class Reason:
    """One kind of stored reason: its code, how to recognise it, and where its column is.

    `column` is `"cell"` (named in the reason), `"field"` (the flow's column for each missing
    critical field), `"key"` (the identity key's column) or None (the row as a whole).
    """

    code: str
    #: None for the fallbacks, which match what nothing else does.
    pattern: re.Pattern[str] | None = None
    column: str | None = None


#: Reasons for a row rejected at load (`sources/`) and in cleansing (`cleansing/records.py`),
#: first match wins.
REASONS: tuple[Reason, ...] = (
    Reason("field_count", re.compile(r"^row has \d+ fields, the header has \d+$")),
    Reason("cell_too_long", re.compile(rf"^cell {_QUOTED} is \d+ characters long"), "cell"),
    Reason("nul_character", re.compile(rf"^cell {_QUOTED} contains a NUL character$"), "cell"),
    Reason("undecodable", re.compile(rf"^cell {_QUOTED} has bytes that are not "), "cell"),
    Reason("undecodable", re.compile(r"^a key has bytes that are not ")),
    Reason("invalid_json", re.compile(r"^is not valid JSON")),
    Reason("not_an_object", re.compile(r"is a JSON \w+(, not an object|, not a list|: the )")),
    Reason("too_deep", re.compile(r"^is nested too deeply$")),
    Reason("over_limit", re.compile(r"; the limit is [\d,]+ \w+ \(max_\w+\)$")),
    Reason("missing_field", re.compile(r"^missing critical field\(s\): (?P<fields>.+)$"), "field"),
    Reason("missing_key", re.compile(r"^missing identity key"), "key"),
    Reason("duplicate_key", re.compile(r"^duplicate key "), "key"),
)
#: Codes of a reason `REASONS` does not know, by where the row was rejected.
UNKNOWN_AT_LOAD = Reason("unreadable_row")
UNKNOWN_IN_CLEANSING = Reason("rejected")
#: A value that did not parse: left out, the row itself still reaches the inventory.
INVALID_VALUE = "invalid_value"


def reason_of(stored: str, *, at_load: bool) -> tuple[Reason, re.Match[str] | None]:
    """The declared kind of a stored reason, and the match that found it."""
    for reason in REASONS:
        found = reason.pattern.search(stored)
        if found:
            return reason, found
    return (UNKNOWN_AT_LOAD if at_load else UNKNOWN_IN_CLEANSING), None


@dataclass(frozen=True)
class Problem:
    #: The row as a person finds it in the file (DESIGN 3d).
    row: int
    #: The source column to look at, None for the row as a whole.
    column: str | None
    code: str
    message: str
    #: Whether the row would not reach the inventory (exit 1), or only loses a value.
    rejected: bool

    def as_json(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "message": self.message,
            "rejected": self.rejected,
        }


def set_aside_imports(
    conn: Connection, scope: TenantScope, import_ids: Iterable[uuid.UUID]
) -> None:
    """Mark imports discarded, for the rest of the caller's transaction only.

    The check rolls back, so this is how it registers a file identical to an earlier import
    (the SHA-256 rule would otherwise return the earlier one) and loads its own import and no
    other pending one, through the very functions a real import and run call.
    """
    ids = list(import_ids)
    if ids:
        conn.execute(
            update(data_imports)
            .where(*scope.where(data_imports), data_imports.c.id.in_(ids))
            .values(status=DISCARDED)
        )


_FIRST_ROW_SQL = text(
    f"""
    SELECT least(
        (SELECT min(r.row_number) FROM migration.raw_import_records r
         WHERE {tenant_filter("r")} AND r.data_import_id = :id),
        (SELECT min(x.row_number) FROM migration.import_rejected_rows x
         WHERE {tenant_filter("x")} AND x.data_import_id = :id))
    """
)


def first_row(conn: Connection, scope: TenantScope, import_id: uuid.UUID) -> int | None:
    """The import's first data row (a workbook's header is the filled row above it)."""
    return conn.execute(_FIRST_ROW_SQL, {**scope.as_params(), "id": import_id}).scalar_one()


#: Every stored verdict on the import's rows, in file order: stage 0 rejected at load,
#: 1 rejected in cleansing (with the key columns left empty), 2 a value left out (with the
#: column that gave it: the first of the field's columns holding text, as the cleansing
#: takes it).
_VERDICTS_SQL = text(
    f"""
    SELECT x.row_number, 0 AS stage, x.reason, NULL::text[] AS empty_key,
           NULL AS field, NULL AS value, NULL AS column_name
    FROM migration.import_rejected_rows x
    WHERE {tenant_filter("x")} AND x.data_import_id = :id
    UNION ALL
    SELECT r.row_number, 1, a.verdict,
           ARRAY(SELECT k.name FROM jsonb_array_elements_text(CAST(:key_columns AS jsonb))
                     WITH ORDINALITY AS k(name, n)
                 WHERE NULLIF(btrim(r.raw_data ->> k.name), '') IS NULL ORDER BY k.n),
           NULL, NULL, NULL
    FROM migration.raw_import_records r
    JOIN migration.cleansed_record_archive a
      ON {tenant_filter("a")} AND a.raw_import_record_id = r.id
    WHERE {tenant_filter("r")} AND r.data_import_id = :id AND a.verdict IS NOT NULL
    UNION ALL
    SELECT r.row_number, 2, i.value ->> 'reason', NULL, i.key, i.value ->> 'value',
           (SELECT c.name FROM jsonb_array_elements_text(CAST(:columns_of AS jsonb) -> i.key)
                WITH ORDINALITY AS c(name, n)
            WHERE (r.raw_data ->> c.name) ~ '\\S' ORDER BY c.n LIMIT 1)
    FROM migration.raw_import_records r
    JOIN migration.cleansed_record_archive a
      ON {tenant_filter("a")} AND a.raw_import_record_id = r.id
    CROSS JOIN LATERAL jsonb_each(a.cleansed_values -> '_invalid') AS i
    WHERE {tenant_filter("r")} AND r.data_import_id = :id
    ORDER BY 1, 2, 5
    """
).bindparams(bindparam("key_columns"), bindparam("columns_of"))


def import_problems(
    conn: Connection, scope: TenantScope, import_id: uuid.UUID, spec: FlowSpec
) -> Iterator[Problem]:
    """The problems of one loaded and cleansed import, in file order, read as they are
    yielded (the caller's transaction stays open while it iterates)."""
    columns_of = {field: spec.columns_of(field) for field in set(spec.mappings.values())}
    result = conn.execute(
        _VERDICTS_SQL,
        {
            **scope.as_params(),
            "id": import_id,
            "key_columns": json.dumps(list(spec.identity_key)),
            "columns_of": json.dumps(columns_of),
        },
        execution_options={"yield_per": FETCH_ROWS},
    )
    try:
        for row_number, verdicts in itertools.groupby(result, key=lambda v: v.row_number):
            yield from _row_problems(row_number, list(verdicts), spec, columns_of)
    finally:
        result.close()


def _row_problems(row_number: int, verdicts: list, spec: FlowSpec, columns_of: dict) -> list:
    rejected = any(v.stage < 2 for v in verdicts)
    invalid = {v.field: v for v in verdicts if v.stage == 2}
    problems = []
    for verdict in verdicts:
        if verdict.stage == 2:
            continue
        reason, found = reason_of(verdict.reason, at_load=verdict.stage == 0)
        if reason.column == "field" and found is not None:
            for field in found["fields"].split(", "):
                problems.append(
                    _missing_field(row_number, field, columns_of.get(field, []), invalid)
                )
            continue
        problems.append(
            Problem(
                row_number,
                _column(reason, found, verdict, spec),
                reason.code,
                _message(reason, verdict),
                True,
            )
        )
    problems += [
        Problem(
            row_number,
            verdict.column_name,
            INVALID_VALUE,
            f"{verdict.field} left out: {verdict.value!r} ({verdict.reason})",
            rejected,
        )
        for verdict in invalid.values()
    ]
    return problems


def _missing_field(row_number: int, field: str, columns: list[str], invalid: dict) -> Problem:
    """A missing critical field, said with the column to fill; a value that was there but
    did not parse (an Excel error value) is said here rather than as a second problem."""
    left_out = invalid.pop(field, None)
    if left_out is not None:
        column = left_out.column_name
        detail = f"column {column!r} holds {left_out.value!r} ({left_out.reason})"
    elif columns:
        column = columns[0]
        detail = "no value in " + " or ".join(map(repr, columns))
    else:
        column = None
        detail = "the flow maps no column to it"
    return Problem(row_number, column, "missing_field", f"missing {field}: {detail}", True)


def _column(reason: Reason, found: re.Match[str] | None, verdict, spec: FlowSpec) -> str | None:
    if reason.column == "cell" and found is not None:
        return ast.literal_eval(found["cell"])
    if reason.column == "key":
        empty = list(verdict.empty_key or ())
        if reason.code == "missing_key" and empty:
            return empty[0]
        if len(spec.identity_key) == 1:
            return spec.identity_key[0]
    return None


def _message(reason: Reason, verdict) -> str:
    if reason.code == "missing_key" and verdict.empty_key:
        return "missing identity key: no value in " + ", ".join(map(repr, verdict.empty_key))
    return verdict.reason
