"""The unit-of-work transaction: all or nothing, timeouts set, one unit per partition."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, insert, select, text

from wiring_pipeline.db.transactions import PartitionBusyError, partition_transaction
from wiring_pipeline.domain.core.schema import assets
from wiring_pipeline.domain.core.tenancy import PartitionKeyError, UnknownTenantError
from wiring_pipeline_tests.support.factories import make_tenant, partition_held


class Boom(Exception):
    pass


def _count_assets(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(assets)).scalar_one()


def _insert_asset(work, name: str) -> None:
    work.conn.execute(
        insert(assets).values(
            client_account_id=work.scope.client_account_id,
            engagement_id=work.scope.engagement_id,
            name=name,
        )
    )


def test_failure_inside_leaves_nothing_and_success_is_visible(engine):
    make_tenant(engine, "acme.dc-exit")
    with pytest.raises(Boom), partition_transaction(engine, "acme.dc-exit") as work:
        _insert_asset(work, "srv-1")
        # The row exists inside the transaction, not outside it.
        assert work.conn.execute(select(func.count()).select_from(assets)).scalar_one() == 1
        assert _count_assets(engine) == 0
        raise Boom
    assert _count_assets(engine) == 0

    with partition_transaction(engine, "acme.dc-exit") as work:
        _insert_asset(work, "srv-1")
    assert _count_assets(engine) == 1


def test_timeouts_are_local_to_the_transaction(engine):
    make_tenant(engine, "acme.dc-exit")
    with partition_transaction(
        engine, "acme.dc-exit", lock_timeout_ms=1234, statement_timeout_ms=56789
    ) as work:
        assert work.conn.execute(text("SHOW lock_timeout")).scalar() == "1234ms"
        assert work.conn.execute(text("SHOW statement_timeout")).scalar() == "56789ms"
    with engine.connect() as conn:
        assert conn.execute(text("SHOW lock_timeout")).scalar() == "0"


def test_second_unit_on_same_partition_waits_then_fails_fast(engine):
    make_tenant(engine, "acme.dc-exit")
    make_tenant(engine, "acme.cloud-wave1")
    with partition_held(engine, "acme.dc-exit"):
        with (
            pytest.raises(PartitionBusyError, match="acme.dc-exit"),
            partition_transaction(engine, "acme.dc-exit", partition_lock_wait_ms=200),
        ):
            pass
        # Another partition is not held up by the lock.
        with partition_transaction(engine, "acme.cloud-wave1", partition_lock_wait_ms=200) as work:
            _insert_asset(work, "other")
    # Once released, the partition is free again.
    with partition_transaction(engine, "acme.dc-exit", partition_lock_wait_ms=200):
        pass


def test_second_unit_runs_after_the_first_commits(engine):
    make_tenant(engine, "acme.dc-exit")
    order: list[str] = []
    started = threading.Event()

    def first() -> None:
        with partition_transaction(engine, "acme.dc-exit") as work:
            started.set()
            time.sleep(0.3)
            _insert_asset(work, "first")
            order.append("first-commit")

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(10)
    with partition_transaction(engine, "acme.dc-exit") as work:
        order.append("second-start")
        seen = work.conn.execute(select(func.count()).select_from(assets)).scalar_one()
    thread.join()
    assert order == ["first-commit", "second-start"]
    assert seen == 1


def test_bad_keys_and_unknown_tenants_fail_before_any_work(engine):
    make_tenant(engine, "acme.dc-exit")
    make_tenant(engine, "globex.erp-move")
    with pytest.raises(PartitionKeyError, match="'acme'"), partition_transaction(engine, "acme"):
        pass
    with pytest.raises(UnknownTenantError, match="no client account with slug 'initech'"):
        with partition_transaction(engine, "initech.dc-exit"):
            pass
    with pytest.raises(UnknownTenantError, match="belongs to another client account"):
        with partition_transaction(engine, "acme.erp-move"):
            pass
