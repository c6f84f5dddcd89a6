"""Two registrations of one key at once: the later waits for the earlier, then agrees with it.

Each test holds the first registration's transaction open, starts the second on another
connection, waits until PostgreSQL shows that second session waiting on a lock (so it has
read past any check and is inside its INSERT), and only then commits the first: the
interleaving that a read-then-insert turns into a unique-constraint traceback.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, Engine, text

from wiring_pipeline.domain.ingest import flows, registry
from wiring_pipeline_tests.support.factories import make_tenant


def _race_behind(engine: Engine, first: Connection, second: Callable[[Connection], object]):
    """Run `second` in its own transaction on another thread, commit `first`'s open
    transaction once `second` waits on a lock it holds, and return what `second` returned
    or raised."""
    outcome: dict[str, object] = {}
    started = threading.Event()

    def run() -> None:
        try:
            with engine.begin() as conn:
                outcome["pid"] = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                started.set()
                outcome["result"] = second(conn)
        except Exception as error:  # handed to the test, which asserts on it
            outcome["error"] = error
        finally:
            started.set()

    thread = threading.Thread(target=run)
    thread.start()
    started.wait()
    # Autocommit: pg_stat_activity is a snapshot per transaction, so each probe needs its own.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        while (
            thread.is_alive()
            and not watcher.execute(
                text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": outcome.get("pid")},
            ).scalar()
        ):
            threading.Event().wait(0.02)
    waited = thread.is_alive()
    first.commit()
    thread.join()
    assert waited, f"the second registration did not wait for the first: {outcome}"
    return outcome


@pytest.mark.parametrize(
    ("existing", "key"),
    [(None, "acme.dc-exit"), ("acme.cloud-wave1", "acme.dc-exit")],
    ids=["new-client", "existing-client"],
)
def test_concurrent_adds_of_one_tenant_answer_like_a_repeat(engine, existing, key):
    if existing:
        make_tenant(engine, existing)
    with engine.connect() as first:
        first.begin()
        scope, created = registry.add_tenant(first, key, "Acme Corp")
        assert created
        outcome = _race_behind(engine, first, lambda conn: registry.add_tenant(conn, key))
    assert "error" not in outcome, outcome.get("error")
    # What a sequential repeat answers: the same scope, nothing created.
    assert outcome["result"] == (scope, False)
    with engine.connect() as conn:
        assert registry.add_tenant(conn, key) == (scope, False)
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM migration.client_accounts),"
                " (SELECT count(*) FROM migration.engagements)"
            )
        ).one()
    assert tuple(counts) == (1, 2 if existing else 1)


def test_concurrent_adds_of_one_flow_id_refuse_the_later_with_one_line(engine):
    scope = make_tenant(engine, "acme.dc-exit")
    flow_id = uuid.uuid4()
    mappings = {"Asset Name": "name", "CI Class": "asset_type", "Env": "environment"}
    with engine.connect() as first:
        first.begin()
        flows.add_flow(first, scope, mappings, flow_id=flow_id, flow_name="cmdb")
        outcome = _race_behind(
            engine,
            first,
            lambda conn: flows.add_flow(conn, scope, mappings, flow_id=flow_id),
        )
    error = outcome.get("error")
    assert isinstance(error, flows.FlowError), outcome
    assert str(error) == f"partition 'acme.dc-exit' already has a flow with flow_id {flow_id}"
    with engine.connect() as conn:
        assert [f["flow_name"] for f in flows.list_flows(conn, scope)] == ["cmdb"]
