"""Loading a partition's pending imports, each inside a savepoint of the caller's unit of work.

The domain streams a file into raw records (`loading.load_import`) and owns no transaction
(rule 1), so it cannot undo the rows of a file found unreadable half-way; this module,
at the edge that owns transactions, gives each import a savepoint and rolls a failed one
back to it, and the partition's other imports still load. Rolling back is also what keeps
a failure cheap: deleting the streamed rows would check, row by row, every foreign key that
may name a raw record, and one whose column has no index (`asset_sources.raw_import_record_id`,
left unindexed so that refreshing a source row stays a HOT update; `superseded_by`) costs a
scan of the partition per row.
"""

from __future__ import annotations

from sqlalchemy import Connection

from wiring_pipeline.domain.core.tenancy import TenantScope
from wiring_pipeline.domain.ingest import loading
from wiring_pipeline.domain.ingest.loading import ImportLoadResult, Progress


def load_pending_imports(
    conn: Connection, scope: TenantScope, progress: Progress | None = None
) -> list[ImportLoadResult]:
    """Load every pending import of the partition, oldest first; one result per import."""
    results = []
    for data_import in loading.lock_pending_imports(conn, scope):
        try:
            with conn.begin_nested():
                result = loading.load_import(conn, scope, data_import, progress)
        except loading.UnreadableImportError as failure:
            result = loading.fail_import(conn, scope, data_import, str(failure))
        results.append(result)
    return results
