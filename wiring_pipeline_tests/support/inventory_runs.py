"""The inventory step run the hard ways: killed inside its transaction, or twice at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import Engine, text

from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.inventory.build import InventoryResult, build_inventory

_CHILD = """
import json, os, sys
from wiring_pipeline.db.engines import get_engine
from wiring_pipeline.db.transactions import partition_transaction
from wiring_pipeline.domain.inventory.build import write_inventory_assets, link_raw_records
url, key, marker = sys.argv[1:]
with partition_transaction(get_engine(url), key) as work:
    changes = write_inventory_assets(work.conn, work.scope)
    link_raw_records(work.conn, work.scope)
    pid = work.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with open(marker + ".tmp", "w") as handle:
        json.dump({"pid": pid, "changes": changes}, handle)
    os.rename(marker + ".tmp", marker)
    sys.stdin.read()  # hold the transaction open until killed
"""


def inventory_killed_in_its_transaction(engine: Engine, key: str, workdir: Path) -> dict:
    """Run the inventory step in a child process and SIGKILL it with its writes done but
    not committed; returns the changes it had written, once its session is gone."""
    marker = workdir / "inside-transaction"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, engine.url.render_as_string(False), key, str(marker)],
        stdin=subprocess.PIPE,
        env={**os.environ},
    )
    try:
        for _ in range(2400):  # a bounded wait (two minutes) for the child's writes
            if marker.exists():
                break
            assert child.poll() is None, "the child died before reaching its transaction"
            threading.Event().wait(0.05)
        else:
            raise AssertionError("the child never reached its transaction's end")
        inside = json.loads(marker.read_text())
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    # Each probe in a transaction of its own: pg_stat_activity is a snapshot taken at a
    # transaction's first read, so one long transaction would see the session forever.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for _ in range(2400):  # a bounded wait (two minutes) for the server to notice
            if not conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": inside["pid"]},
            ).scalar():
                return inside["changes"]
            threading.Event().wait(0.05)
    raise AssertionError(f"the killed child's session {inside['pid']} never ended")


def concurrent_inventory_runs(engine: Engine, key: str, runs: int = 2) -> list[InventoryResult]:
    """`runs` inventory steps of one partition started at once, each in its unit of work."""
    barrier = threading.Barrier(runs)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait()
            with partition_transaction(engine, key) as work:
                results.append(build_inventory(work.conn, work.scope))
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results
