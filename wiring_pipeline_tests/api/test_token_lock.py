"""Recording a token's use never makes another request wait: the write is its own short
transaction (and skips a row someone else holds), not part of a request that may read for
seconds (an export, the health of a million records)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import text

from wiring_pipeline.api.app import create_app
from wiring_pipeline.db.transactions import set_local_timeouts
from wiring_pipeline.domain.access.tokens import revoke_token
from wiring_pipeline_tests.api.conftest import Tokens, serving
from wiring_pipeline_tests.support.defects import BROKEN_KEY

HEALTH = f"/api/v1/partitions/{BROKEN_KEY}/health/wiring"
ASSETS = f"/api/v1/partitions/{BROKEN_KEY}/assets"


def _token_id(token: str) -> uuid.UUID:
    return uuid.UUID(token.split("_")[1])


def test_a_long_request_holds_no_lock_on_its_token(engine, tokens, app_engine, held_health):
    auth = Tokens.header(tokens.broken)
    with serving(create_app(app_engine)) as url, ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.get, url + HEALTH, headers=auth, timeout=60)
        try:
            assert held_health.entered.wait(60), "the first request never reached its read"
            # The same token again, while the first request is inside its transaction.
            second = httpx.get(url + ASSETS, headers=auth, timeout=60)
            # `token revoke` does not wait for the long request either (2 s at most here).
            with engine.connect() as conn, conn.begin():
                set_local_timeouts(conn, 2_000, 10_000)
                revoke_token(conn, str(_token_id(tokens.broken)))
            after_revoke = httpx.get(url + ASSETS, headers=auth, timeout=60)
        finally:
            held_health.release.set()
        assert first.result().status_code == 200
    assert second.status_code == 200, second.text
    assert after_revoke.status_code == 401


def test_a_request_waiting_on_a_lock_past_its_timeout_is_503_not_500(engine, client, tokens):
    with engine.connect() as holder, holder.begin():
        holder.execute(text("LOCK TABLE migration.assets IN ACCESS EXCLUSIVE MODE"))
        response = client.get(ASSETS, headers=Tokens.header(tokens.broken))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"detail": "the database is busy: retry the request"}
