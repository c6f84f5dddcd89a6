"""Tokens: random, stored only as a SHA-256, scoped, revocable, gone with their tenant."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import text

from wiring_pipeline.db.transactions import set_local_timeouts
from wiring_pipeline.domain.access.tokens import (
    TokenError,
    authenticate,
    create_token,
    list_tokens,
    revoke_token,
)
from wiring_pipeline.domain.core.tenancy import UnknownTenantError, parse_partition_key
from wiring_pipeline_tests.support.factories import make_tenant


def test_a_token_is_random_shown_once_and_stored_as_its_hash_only(engine):
    make_tenant(engine, "acme.dc-exit")
    with engine.begin() as conn:
        issued = [create_token(conn, partition_key="acme.dc-exit") for _ in range(3)]
        stored = conn.execute(
            text("SELECT t::text AS row, token_sha256 FROM migration.api_tokens t")
        ).all()
    assert len({i.token for i in issued}) == 3
    for token in issued:
        secret = re.fullmatch(r"wpt_[0-9a-f]{32}_([A-Za-z0-9_-]{43})", token.token).group(1)
        assert len(secret) * 6 >= 256  # 32 random bytes, url-safe base64
        assert not any(secret in row.row for row in stored)
    assert {row.token_sha256 for row in stored} == {
        hashlib.sha256(i.token.encode()).hexdigest() for i in issued
    }
    assert issued[0].as_json() == {
        "id": str(issued[0].id),
        "token": issued[0].token,
        "scope": "partition:acme.dc-exit",
    }


def test_scopes_allow_their_partitions_only(engine):
    make_tenant(engine, "acme.dc-exit")
    with engine.begin() as conn:
        partition = create_token(conn, partition_key="acme.dc-exit").scope
        client = create_token(conn, client_slug="acme").scope
        admin = create_token(conn, admin=True).scope
    keys = ["acme.dc-exit", "acme.other", "globex.dc-exit"]
    allowed = {
        str(scope): [scope.allows(parse_partition_key(k)) for k in keys]
        for scope in (partition, client, admin)
    }
    assert allowed == {
        "partition:acme.dc-exit": [True, False, False],
        "client:acme": [True, True, False],
        "admin": [True, True, True],
    }


def test_authenticate_accepts_the_token_only(engine):
    make_tenant(engine, "acme.dc-exit")
    with engine.begin() as conn:
        issued = create_token(conn, client_slug="acme", name="ci")
        assert authenticate(conn, issued.token).token_id == issued.id
        for wrong in (None, "", issued.token + "x", issued.token[:-1] + "-", "Bearer x"):
            assert authenticate(conn, wrong) is None, wrong
        listed = list_tokens(conn)
    assert listed[0]["name"] == "ci" and listed[0]["last_used_at"] is not None
    assert "token" not in listed[0]


def test_revoked_tokens_and_tokens_of_removed_tenants_fail(engine):
    make_tenant(engine, "acme.dc-exit")
    with engine.begin() as conn:
        revoked = create_token(conn, admin=True)
        orphaned = create_token(conn, partition_key="acme.dc-exit")
        first = revoke_token(conn, str(revoked.id))
        again = revoke_token(conn, str(revoked.id))
        assert first["revoked_at"] == again["revoked_at"] is not None
        assert authenticate(conn, revoked.token) is None
        assert authenticate(conn, orphaned.token) is not None
        conn.execute(text("DELETE FROM migration.engagements"))
        assert authenticate(conn, orphaned.token) is None
        assert "<removed tenant>" in {t["scope"].split(":")[-1] for t in list_tokens(conn)}


def test_bad_requests_raise_with_a_reason(engine):
    make_tenant(engine, "acme.dc-exit")
    with engine.begin() as conn:
        with pytest.raises(TokenError, match="exactly one"):
            create_token(conn)
        with pytest.raises(TokenError, match="exactly one"):
            create_token(conn, admin=True, client_slug="acme")
        with pytest.raises(UnknownTenantError):
            create_token(conn, partition_key="acme.nowhere")
        with pytest.raises(UnknownTenantError):
            create_token(conn, client_slug="globex")
        with pytest.raises(TokenError, match="malformed"):
            create_token(conn, client_slug="Not A Slug")
        with pytest.raises(TokenError, match="not a UUID"):
            revoke_token(conn, "abc")
        with pytest.raises(TokenError, match="no token"):
            revoke_token(conn, "00000000-0000-0000-0000-000000000000")


def test_recording_a_use_never_waits_for_a_held_token_row(engine):
    make_tenant(engine, "acme.dc-exit")
    with engine.begin() as conn:
        issued = create_token(conn, client_slug="acme")
    with engine.connect() as holder, holder.begin():
        holder.execute(
            text("SELECT 1 FROM migration.api_tokens WHERE id = :id FOR UPDATE"), {"id": issued.id}
        )
        with engine.connect() as conn, conn.begin():
            set_local_timeouts(conn, 2_000, 10_000)
            assert authenticate(conn, issued.token).token_id == issued.id
            assert list_tokens(conn)[0]["last_used_at"] is None  # skipped, not waited for
    with engine.begin() as conn:
        assert authenticate(conn, issued.token) is not None
        assert list_tokens(conn)[0]["last_used_at"] is not None
