"""Who gets what: 401 without a valid token, 403 outside its scope (the same answer
whether or not the partition exists), 422 for a malformed key, 404 inside the scope."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from wiring_pipeline.domain.access.tokens import revoke_token
from wiring_pipeline_tests.api.conftest import Tokens, issue
from wiring_pipeline_tests.support.defects import BROKEN_KEY, NEIGHBOUR_KEY, SIBLING_KEY

HEALTH = "/api/v1/partitions/{}/health/wiring"
ASSETS = "/api/v1/partitions/{}/assets"
EXPORT = "/api/v1/partitions/{}/assets/export"
COVERAGE = "/api/v1/partitions/{}/assets/coverage"
CONFLICTS = "/api/v1/partitions/{}/assets/conflicts"
MATCHES = "/api/v1/partitions/{}/assets/matches"
ROUTES = (HEALTH, ASSETS, EXPORT, COVERAGE, CONFLICTS, MATCHES)


def test_healthz_needs_no_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("route", ROUTES)
def test_no_unknown_or_revoked_token_is_401(client, engine, tokens: Tokens, route):
    revoked = issue(engine, partition_key=BROKEN_KEY)
    with engine.begin() as conn:
        token_id = conn.execute(
            text("SELECT id FROM migration.api_tokens ORDER BY created_at DESC, id LIMIT 1")
        ).scalar_one()
        revoke_token(conn, str(token_id))
    wrong_secret = tokens.broken[:-4] + ("AAAA" if not tokens.broken.endswith("AAAA") else "BBBB")
    cases = {
        "none": {},
        "not a token": Tokens.header("hello"),
        "wrong secret": Tokens.header(wrong_secret),
        "unknown id": Tokens.header("wpt_" + "0" * 32 + "_" + "A" * 43),
        "revoked": Tokens.header(revoked),
        "basic scheme": {"Authorization": "Basic dXNlcjpwdw=="},
    }
    for case, headers in cases.items():
        response = client.get(route.format(BROKEN_KEY), headers=headers)
        assert response.status_code == 401, case
        assert response.headers["www-authenticate"] == "Bearer", case
    answered = client.get(route.format(BROKEN_KEY), headers=Tokens.header(tokens.broken))
    assert answered.status_code == 200


@pytest.mark.parametrize("route", ROUTES)
def test_outside_the_scope_is_403_whether_or_not_the_partition_exists(client, tokens, route):
    # (token, an existing partition outside it, a missing partition outside it)
    cases = [
        (tokens.broken, SIBLING_KEY, "defect.nowhere"),
        (tokens.broken, NEIGHBOUR_KEY, "nobody.nowhere"),
        (tokens.defect_client, NEIGHBOUR_KEY, "nobody.nowhere"),
        (tokens.neighbour, BROKEN_KEY, "clean.nowhere"),
    ]
    for token, existing, missing in cases:
        answers = [
            client.get(route.format(key), headers=Tokens.header(token))
            for key in (existing, missing)
        ]
        assert [a.status_code for a in answers] == [403, 403], (existing, missing)
        assert answers[0].json() == answers[1].json()
        assert answers[0].headers["content-length"] == answers[1].headers["content-length"]


def test_client_and_admin_tokens_reach_their_partitions(client, tokens):
    for token, key in (
        (tokens.defect_client, BROKEN_KEY),
        (tokens.defect_client, SIBLING_KEY),
        (tokens.admin, NEIGHBOUR_KEY),
    ):
        assert client.get(HEALTH.format(key), headers=Tokens.header(token)).status_code == 200


def test_unknown_partition_inside_the_scope_is_404(client, tokens):
    for token, key in ((tokens.defect_client, "defect.nowhere"), (tokens.admin, "who.knows")):
        response = client.get(HEALTH.format(key), headers=Tokens.header(token))
        assert response.status_code == 404, key
        assert "nowhere" in response.json()["detail"] or "who" in response.json()["detail"]


@pytest.mark.parametrize("key", ["no-dot", "Upper.case", "a.b.c", "x." + "y" * 64, "a..b"])
def test_malformed_key_is_422(client, tokens, key):
    response = client.get(HEALTH.format(key), headers=Tokens.header(tokens.admin))
    assert response.status_code == 422
    assert "malformed" in response.json()["detail"]
    # The token is checked first: without a valid one, nothing is said about the key.
    assert client.get(HEALTH.format(key), headers=Tokens.header("wrong")).status_code == 401


def test_metrics_needs_an_admin_token(client, tokens):
    assert client.get("/metrics").status_code == 401
    for token in (tokens.broken, tokens.defect_client):
        assert client.get("/metrics", headers=Tokens.header(token)).status_code == 403
    assert client.get("/metrics", headers=Tokens.header(tokens.admin)).status_code == 200


def test_a_use_is_recorded_and_a_revocation_takes_effect_at_once(client, engine, tokens):
    assert client.get(HEALTH.format(BROKEN_KEY), headers=Tokens.header(tokens.broken)).is_success
    with engine.begin() as conn:
        used = conn.execute(
            text("SELECT id, last_used_at FROM migration.api_tokens WHERE name = 'broken only'")
        ).one()
        assert used.last_used_at is not None
        revoke_token(conn, str(used.id))
    again = client.get(HEALTH.format(BROKEN_KEY), headers=Tokens.header(tokens.broken))
    assert again.status_code == 401


def test_openapi_names_every_response_code(client):
    paths = client.get("/openapi.json").json()["paths"]
    for route in ROUTES:
        responses = paths[route.format("{key}")]["get"]["responses"]
        assert {"200", "401", "403", "404", "422"} <= set(responses), route
    assert {"200", "401", "403"} <= set(paths["/metrics"]["get"]["responses"])
    assert "503" in paths["/healthz"]["get"]["responses"]
