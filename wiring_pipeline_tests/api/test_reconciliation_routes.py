"""The reconciliation routes (DESIGN 3e, 4a) answer what `inventory coverage|conflicts|matches`
print, behind the same walls as every partition route; the listing and the export carry
each asset's sources. Two tenants hold the same kind of reconciled data, so a leak would
show."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from wiring_pipeline.api import app as app_module
from wiring_pipeline.api.access import enter_api_role
from wiring_pipeline.api.app import create_app
from wiring_pipeline.api.server import api_engine
from wiring_pipeline.domain.core.tenancy import resolve_scope
from wiring_pipeline.domain.inventory.export import CONFLICT_COLUMNS
from wiring_pipeline.domain.inventory.reconciliation_report import (
    MAX_ROWS,
    conflicts,
    coverage,
    match_candidates,
)
from wiring_pipeline_tests.api.conftest import Tokens, issue
from wiring_pipeline_tests.domain.inventory.test_listing import (
    ASSET_NAMES,
    CONFLICTING_FIELDS,
    SHARED,
    Reconciled,
    reconciled_partition,
)

KEY = "acme.reconciled"
OTHER_KEY = "globex.reconciled"
ROUTES = {
    "coverage": coverage,
    "conflicts": lambda conn, scope: conflicts(conn, scope, 100),
    "matches": lambda conn, scope: match_candidates(conn, scope, 100),
}
RECONCILIATION_TABLES = ("asset_sources", "asset_conflicts", "match_candidates")


def url(key: str, route: str) -> str:
    return f"/api/v1/partitions/{key}/assets/{route}"


@pytest.fixture()
def two_tenants(engine, tmp_path) -> tuple[Reconciled, Reconciled, str, str]:
    """Two tenants' reconciled partitions (the other's machines named `other-…`) and a
    token for each."""
    ours = reconciled_partition(engine, tmp_path, KEY)
    theirs = reconciled_partition(engine, tmp_path, OTHER_KEY, prefix="other-")
    return ours, theirs, issue(engine, partition_key=KEY), issue(engine, partition_key=OTHER_KEY)


def _names_in(answer) -> set[str]:
    """Every asset name an answer mentions, wherever it is."""
    if isinstance(answer, dict):
        found = {answer["name"]} if isinstance(answer.get("name"), str) else set()
        return found.union(*(_names_in(value) for value in answer.values()))
    if isinstance(answer, list):
        return set().union(*(_names_in(value) for value in answer))
    return set()


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_each_route_answers_what_the_command_prints(client, engine, two_tenants, route):
    ours, theirs, token, their_token = two_tenants
    for made, key, auth in ((ours, KEY, token), (theirs, OTHER_KEY, their_token)):
        answer = client.get(url(key, route), headers=Tokens.header(auth))
        assert answer.status_code == 200, answer.text
        with engine.connect() as conn:
            assert answer.json() == ROUTES[route](conn, made.scope)
        # Only this tenant's machines, never the other's.
        names = _names_in(answer.json())
        assert names and {n.startswith("other-") for n in names} == {made is theirs}


def test_what_the_routes_show_of_the_two_sources(client, two_tenants):
    _, _, token, _ = two_tenants
    auth = Tokens.header(token)
    report = client.get(url(KEY, "coverage"), headers=auth).json()
    assert (report["partition"], report["sources"], report["assets"]) == (
        KEY,
        ["cmdb", "rvtools"],
        len(ASSET_NAMES),
    )
    assert {tuple(c["sources"]): c["assets"] for c in report["combinations"]} == {
        ("cmdb",): 2,
        ("rvtools",): 2,
        ("cmdb", "rvtools"): 1,
    }
    found = client.get(url(KEY, "conflicts"), headers=auth).json()
    assert [(c["name"], c["field"]) for c in found] == [(SHARED, f) for f in CONFLICTING_FIELDS]
    memory = next(c for c in found if c["field"] == "memory_gb")
    assert memory["values"] == {"cmdb": 16, "rvtools": 12}
    assert memory["chosen"] == {"source": "rvtools", "value": 12}
    [candidate] = client.get(url(KEY, "matches"), headers=auth).json()
    assert (candidate["asset"]["name"], candidate["candidate"]["name"]) == (
        "clone-of-web01",
        "web01-a",
    )
    assert candidate["rule"] == "serial_number"


def test_limit_is_bounded(client, two_tenants):
    _, _, token, _ = two_tenants
    auth = Tokens.header(token)
    for route in ("conflicts", "matches"):
        one = client.get(url(KEY, route), params={"limit": 1}, headers=auth)
        assert one.status_code == 200 and len(one.json()) == 1, route
        top = client.get(url(KEY, route), params={"limit": MAX_ROWS}, headers=auth)
        assert top.status_code == 200, route
        for bad in (0, -1, MAX_ROWS + 1, 2**63, "x"):
            answer = client.get(url(KEY, route), params={"limit": bad}, headers=auth)
            assert answer.status_code == 422, (route, bad)
    assert len(client.get(url(KEY, "conflicts"), headers=auth).json()) == len(CONFLICTING_FIELDS)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_the_walls_are_those_of_every_partition_route(client, engine, two_tenants, route):
    _, _, _, their_token = two_tenants
    admin = issue(engine, admin=True)
    assert client.get(url(KEY, route)).status_code == 401
    assert client.get(url(KEY, route), headers=Tokens.header("wrong")).status_code == 401
    # Another tenant's token: the same 403 whether or not the partition exists.
    answers = [
        client.get(url(key, route), headers=Tokens.header(their_token))
        for key in (KEY, "acme.nowhere")
    ]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].content == answers[1].content
    for key in ("no-dot", "Upper.case", "a..b"):
        answer = client.get(url(key, route), headers=Tokens.header(admin))
        assert answer.status_code == 422 and "malformed" in answer.json()["detail"], key
        # The token first: without a valid one, nothing is said about the key.
        assert client.get(url(key, route), headers=Tokens.header("wrong")).status_code == 401
    unknown = client.get(url("acme.nowhere", route), headers=Tokens.header(admin))
    assert unknown.status_code == 404


def test_the_api_role_sees_only_the_tenants_source_rows_conflicts_and_candidates(
    engine, two_tenants
):
    """The second wall on the reconciliation tables: a query that forgets its tenant filter
    still sees one tenant's rows through the API's role."""
    ours, theirs, _, _ = two_tenants

    def counts(conn, where: str = "true", params=None) -> dict[str, int]:
        return {
            table: conn.execute(
                text(f"SELECT count(*) FROM migration.{table} WHERE {where}"), params or {}
            ).scalar_one()
            for table in RECONCILIATION_TABLES
        }

    tenant = "client_account_id = :client_account_id AND engagement_id = :engagement_id"
    with engine.connect() as conn, conn.begin():
        everything = counts(conn)
        expected = counts(conn, tenant, ours.scope.as_params())
        enter_api_role(conn, resolve_scope(conn, KEY))
        seen = counts(conn)
    assert seen == expected
    assert all(0 < seen[table] < everything[table] for table in RECONCILIATION_TABLES), seen
    assert theirs.scope != ours.scope


def test_the_fixed_routes_are_not_taken_for_ids(client):
    paths = client.get("/openapi.json").json()["paths"]
    for route in ROUTES:
        responses = paths[url("{key}", route)]["get"]["responses"]
        assert {"200", "401", "403", "404", "422", "503"} <= set(responses), route
    limit = next(
        p for p in paths[url("{key}", "conflicts")]["get"]["parameters"] if p["name"] == "limit"
    )
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, MAX_ROWS)


def test_the_listing_carries_each_assets_sources(client, two_tenants):
    ours, _, token, _ = two_tenants
    body = client.get(
        f"/api/v1/partitions/{KEY}/assets", params={"page_size": 200}, headers=Tokens.header(token)
    ).json()
    items = {item["name"]: item for item in body["items"]}
    assert sorted(items) == sorted(ASSET_NAMES)
    shared = items[SHARED]["sources"]
    assert [(s["flow"], s["flow_id"], s["matched_on"], s["current"]) for s in shared] == [
        ("cmdb", str(ours.cmdb["id"]), "new", True),
        ("rvtools", str(ours.rvtools["id"]), "ip_address", True),
    ]
    assert all(s["raw_import_record_id"] for s in shared)


def test_the_export_carries_the_sources_and_its_xlsx_the_conflicts(client, two_tenants):
    _, _, token, _ = two_tenants
    auth = Tokens.header(token)
    export = f"/api/v1/partitions/{KEY}/assets/export"
    csv = client.get(export, headers=auth)
    assert csv.status_code == 200
    rows = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig").set_index("name")
    assert (rows.loc[SHARED, "sources"], rows.loc[SHARED, "matched_on"]) == (
        "cmdb; rvtools",
        "ip_address",
    )
    xlsx = client.get(export, params={"format": "xlsx"}, headers=auth)
    assert xlsx.status_code == 200
    sheets = pd.read_excel(io.BytesIO(xlsx.content), sheet_name=None)
    assert list(sheets) == ["inventory", "conflicts"]
    assert list(sheets["inventory"]["name"]) == list(rows.index)
    found = sheets["conflicts"]
    assert list(found.columns) == [*CONFLICT_COLUMNS, "cmdb value", "rvtools value"]
    assert list(found["field"]) == CONFLICTING_FIELDS and set(found["asset_name"]) == {SHARED}


def test_the_export_reads_one_snapshot_and_gives_its_connection_back_as_it_came(
    engine, api_url, two_tenants, monkeypatch
):
    """The inventory and its conflicts are read in one read-only REPEATABLE READ
    transaction, so a run committing between them cannot show in one sheet only; the
    connection then goes back to the pool at the default level, for the next request."""
    _, _, token, _ = two_tenants
    seen = []
    real_export = app_module.export_inventory

    def export_inventory(conn, *args, **options):
        seen.append(_characteristics(conn))
        return real_export(conn, *args, **options)

    monkeypatch.setattr(app_module, "export_inventory", export_inventory)
    pool = api_engine(api_url, pool_size=1)
    try:
        with TestClient(create_app(pool)) as one:
            export = f"/api/v1/partitions/{KEY}/assets/export"
            answer = one.get(export, params={"format": "xlsx"}, headers=Tokens.header(token))
            assert answer.is_success
        with pool.connect() as conn:
            after = _characteristics(conn)
    finally:
        pool.dispose()
    assert seen == [("repeatable read", "on")]
    assert after == ("read committed", "off")


def _characteristics(conn) -> tuple[str, str]:
    return (
        conn.execute(text("SHOW transaction_isolation")).scalar_one(),
        conn.execute(text("SHOW transaction_read_only")).scalar_one(),
    )
