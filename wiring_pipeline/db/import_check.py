"""`import --check` (DESIGN 3f): a rehearsal of `import` and `run` on one file, rolled back.

"The same readers and cleansing rules" is guaranteed by running them: in one unit of work on
the partition that never commits, the file is registered (`registry.register_import`, its
checks included), loaded (`import_loading.load_pending_imports`) and cleansed
(`cleansing.cleanse_open_records`), and the verdicts they stored for this import are read
back as problems (`ingest.import_check`). The transaction is then rolled back and the
stored copy lives in a scratch directory removed afterwards, so the check writes nothing.

Two rules of a real import are stepped around inside the rehearsal only: an identical
earlier import of the flow (which would make the registration return that import) and the
partition's other pending imports (which the loader would load too) are set aside.

This orchestration calls two stages (ingest and cleansing), which the domain's layers keep
apart, so it sits here, at the edge that owns transactions. Like any unit of work it holds
the partition's advisory lock while it runs: a run of the partition waits for the check,
and the check for the run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from wiring_pipeline.db import transactions
from wiring_pipeline.db.import_loading import load_pending_imports
from wiring_pipeline.domain.cleansing.records import cleanse_open_records
from wiring_pipeline.domain.contract.fields import source_columns
from wiring_pipeline.domain.contract.flow_spec import spec_of
from wiring_pipeline.domain.core import statistics
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.core.tenancy import resolve_scope
from wiring_pipeline.domain.ingest import errors_file, flows, import_check, registry
from wiring_pipeline.domain.ingest.import_report import pending_import_ids
from wiring_pipeline.domain.ingest.loading import Progress
from wiring_pipeline.domain.ingest.sources import SourceOptions


class CheckedFileUnreadable(UserInputError):
    """The file passed the registration's checks but could not be read to its end."""


@dataclass(frozen=True)
class CheckOutcome:
    filename: str
    #: Source rows of the file (loaded and rejected at load).
    rows: int
    #: Rows that would not reach the inventory.
    rejected_rows: int
    problems: int

    @property
    def complete(self) -> bool:
        """Every row would reach the inventory (exit 0)."""
        return self.rejected_rows == 0


@contextmanager
def rolled_back_unit_of_work(
    engine: Engine, partition_key: str
) -> Iterator[transactions.UnitOfWork]:
    """A unit of work as `transactions.partition_transaction` opens it (scope, advisory lock,
    timeouts) that rolls back however its block ends."""
    with engine.connect() as conn:
        conn.begin()
        try:
            scope = resolve_scope(conn, partition_key)
            transactions.lock_partition(
                conn, scope.partition_key, transactions.DEFAULT_PARTITION_LOCK_WAIT_MS
            )
            transactions.set_local_timeouts(
                conn,
                transactions.DEFAULT_LOCK_TIMEOUT_MS,
                transactions.DEFAULT_STATEMENT_TIMEOUT_MS,
            )
            yield transactions.UnitOfWork(conn, scope)
        finally:
            conn.rollback()
            statistics.take_pending(conn)  # nothing was committed: nothing to analyze


def check_import(
    engine: Engine,
    partition_key: str,
    flow_ref: str,
    source: Path,
    *,
    on_problem: Callable[[import_check.Problem], None],
    sheet_name: str | None = None,
    encoding: str | None = None,
    errors_path: Path | None = None,
    progress: Progress | None = None,
) -> CheckOutcome:
    """Check `source` for the flow as `import` and `run` would take it, writing nothing but
    the errors file (when `errors_path` is given).

    Each problem goes to `on_problem` in file order as it is read back. A file `import`
    refuses, or that turns out unreadable further on, raises UserInputError (exit 2).
    """
    if errors_path is not None:
        errors_file.check_errors_path(source, errors_path)
    with (
        tempfile.TemporaryDirectory(prefix="wiring-check-") as scratch,
        rolled_back_unit_of_work(engine, partition_key) as work,
    ):
        conn, scope = work.conn, work.scope
        flow = flows.find_flow(conn, scope, flow_ref)

        def register() -> dict:
            return registry.register_import(
                conn, scope, flow, source, Path(scratch), sheet_name=sheet_name, encoding=encoding
            )

        registered = register()
        while "duplicate_of" in registered:
            import_check.set_aside_imports(conn, scope, [registered["duplicate_of"]])
            registered = register()
        import_id = registered["id"]
        others = [other for other in pending_import_ids(conn, scope) if other != import_id]
        import_check.set_aside_imports(conn, scope, others)
        (loaded,) = load_pending_imports(conn, scope, progress)
        if loaded.status != "loaded":
            raise CheckedFileUnreadable(loaded.error or f"{loaded.filename}: could not be read")
        cleanse_open_records(conn, scope)

        spec = spec_of(flow)
        tally = _Tally()
        problems = tally.counted(
            import_check.import_problems(conn, scope, import_id, spec), on_problem
        )
        if errors_path is not None:
            errors_file.write_errors_file(
                Path(registered["stored_path"]),
                errors_path,
                SourceOptions(
                    registered["file_format"],
                    registered["encoding"],
                    registered["sheet_name"],
                    source_columns(spec.mappings, list(spec.identity_key)),
                    records_path=spec.records_path,
                ),
                ((problem.row, problem.message) for problem in problems),
                filename=registered["filename"],
                first_row=import_check.first_row(conn, scope, import_id),
            )
        for _ in problems:  # the rest, had the writer stopped early: every problem is said
            pass
    return CheckOutcome(
        loaded.filename, loaded.loaded_rows + loaded.rejected_rows, tally.rejected_rows, tally.count
    )


class _Tally:
    """Counts the problems, and the rejected rows among their rows, as they pass."""

    def __init__(self) -> None:
        self.count = 0
        self.rejected_rows = 0
        self._last_rejected: int | None = None

    def counted(
        self,
        problems: Iterator[import_check.Problem],
        on_problem: Callable[[import_check.Problem], None],
    ) -> Iterator[import_check.Problem]:
        for problem in problems:
            self.count += 1
            if problem.rejected and problem.row != self._last_rejected:
                self.rejected_rows += 1
                self._last_rejected = problem.row
            on_problem(problem)
            yield problem
