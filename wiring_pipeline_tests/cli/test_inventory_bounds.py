"""`inventory --page/--page-size` and the listing behind it are bounded: one line and exit 2
for a page no partition could have, an empty page past the last, never a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from wiring_pipeline.cli.main import cli
from wiring_pipeline.domain.core.tenancy import resolve_scope
from wiring_pipeline.domain.inventory.listing import (
    MAX_PAGE,
    InventoryListingError,
    list_inventory_assets,
)
from wiring_pipeline_tests.support.defects import BROKEN_KEY, build_defect_world


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_an_unbounded_page_is_one_line_and_exit_2(engine):
    build_defect_world(engine)
    for args in (
        ["--page", "99999999999999999999"],
        ["--page", str(MAX_PAGE + 1)],
        ["--page", "0"],
        ["--page-size", "0"],
    ):
        result = run("inventory", "--partition", BROKEN_KEY, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output and "Error:" in result.output, args
        assert len(result.output.strip().splitlines()) <= 4, result.output  # click's usage


def test_a_page_past_the_last_is_empty(engine):
    build_defect_world(engine)
    result = run("inventory", "--partition", BROKEN_KEY, "--page", str(MAX_PAGE))
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["assets"] == [] and listing["total"] > 0 and listing["page"] == MAX_PAGE


def test_the_listing_refuses_pages_beyond_the_bound(engine):
    build_defect_world(engine)
    with engine.connect() as conn, conn.begin():
        scope = resolve_scope(conn, BROKEN_KEY)
        for page in (0, MAX_PAGE + 1, 2**63, 10**30):
            with pytest.raises(InventoryListingError, match="page"):
                list_inventory_assets(conn, scope, page=page)
        beyond = list_inventory_assets(conn, scope, page=MAX_PAGE, page_size=10**30)
    assert beyond.items == [] and beyond.page_size == 200 and beyond.total > 0
