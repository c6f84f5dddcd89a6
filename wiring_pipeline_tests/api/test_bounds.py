"""Query parameters are bounded: a page past the last one is an empty page, a page no
partition could have is a 422, and neither reaches the database as an out-of-range bigint."""

from __future__ import annotations

from wiring_pipeline.domain.inventory.listing import MAX_PAGE, MAX_PAGE_SIZE
from wiring_pipeline_tests.api.conftest import Tokens
from wiring_pipeline_tests.support.defects import BROKEN_KEY

ASSETS = f"/api/v1/partitions/{BROKEN_KEY}/assets"


def test_an_unbounded_page_is_422_and_a_page_past_the_last_is_empty(client, tokens):
    auth = Tokens.header(tokens.broken)
    for page in (4611686018427387904, 2**63, 10**30, MAX_PAGE + 1):
        response = client.get(ASSETS, params={"page": page}, headers=auth)
        assert response.status_code == 422, page
    for page in (MAX_PAGE, 1_000):
        body = client.get(ASSETS, params={"page": page}, headers=auth).json()
        assert (body["page"], body["items"]) == (page, []) and body["total"] > 0, page


def test_a_huge_page_size_is_cut_to_the_cap(client, tokens):
    auth = Tokens.header(tokens.broken)
    body = client.get(ASSETS, params={"page_size": 10**30, "page": 2}, headers=auth).json()
    assert (body["page_size"], body["page_size_capped"], body["items"]) == (
        MAX_PAGE_SIZE,
        True,
        [],
    )


def test_the_bounds_are_in_the_openapi_description(client):
    parameters = client.get("/openapi.json").json()["paths"]["/api/v1/partitions/{key}/assets"]
    page = next(p for p in parameters["get"]["parameters"] if p["name"] == "page")
    assert (page["schema"]["minimum"], page["schema"]["maximum"]) == (1, MAX_PAGE)
