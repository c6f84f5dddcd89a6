"""`inventory export` of a partition of two sources: the inventory names each asset's sources,
and what they disagree on goes beside it, a sheet of the workbook or a CSV of its own."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from click.testing import CliRunner

from wiring_pipeline.cli.main import cli
from wiring_pipeline.domain.inventory import export
from wiring_pipeline.domain.inventory.export import CONFLICT_COLUMNS, ExportError
from wiring_pipeline_tests.domain.inventory.test_listing import (
    ASSET_NAMES,
    CONFLICTING_FIELDS,
    SHARED,
    reconciled_partition,
)

KEY = "acme.handover"
CONFLICTS_HEADER = [*CONFLICT_COLUMNS, "cmdb value", "rvtools value"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def out(engine, tmp_path):
    """Where the exports go, beside nothing else, once the partition is reconciled."""
    reconciled_partition(engine, tmp_path, KEY)
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_a_csv_file_gets_its_conflicts_beside_it(out):
    target = out / "inventory.csv"
    result = run("inventory", "export", "--partition", KEY, "-o", str(target))
    assert result.exit_code == 0, result.output
    beside = out / "inventory.conflicts.csv"
    assert sorted(p.name for p in out.iterdir()) == ["inventory.conflicts.csv", "inventory.csv"]
    assert f"wrote 5 assets to {target}, 1 conflict to {beside}" in result.stderr
    inventory = pd.read_csv(target, encoding="utf-8-sig").set_index("name")
    assert sorted(inventory.index) == sorted(ASSET_NAMES)
    assert inventory.loc[SHARED, "sources"] == "cmdb; rvtools"
    conflicts = pd.read_csv(beside, encoding="utf-8-sig")
    assert list(conflicts.columns) == CONFLICTS_HEADER
    assert list(conflicts["field"]) == CONFLICTING_FIELDS


def test_stdout_gets_the_inventory_alone_and_says_so(out):
    result = run("inventory", "export", "--partition", KEY)
    assert result.exit_code == 0, result.output
    assert "conflicts are not written to stdout" in result.stderr
    frame = pd.read_csv(io.BytesIO(result.stdout_bytes), encoding="utf-8-sig")
    assert len(frame) == len(ASSET_NAMES)
    assert list(out.iterdir()) == []


def test_a_workbook_gets_a_conflicts_sheet(out):
    target = out / "inventory.xlsx"
    result = run("inventory", "export", "--partition", KEY, "--format", "xlsx", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert f"wrote 5 assets to {target}, 1 conflict on its conflicts sheet" in result.stderr
    sheets = pd.read_excel(target, sheet_name=None)
    assert list(sheets) == ["inventory", "conflicts"]
    assert list(sheets["conflicts"].columns) == CONFLICTS_HEADER
    assert [p.name for p in out.iterdir()] == ["inventory.xlsx"]


def test_a_failed_export_leaves_both_files_as_they_were(out, monkeypatch):
    target, beside = out / "inventory.csv", out / "inventory.conflicts.csv"
    target.write_text("last week's inventory")
    beside.write_text("last week's conflicts")

    def refused(*args, **options):
        raise ExportError("the conflicts cannot be read")

    monkeypatch.setattr(export, "conflict_table", refused)
    result = run("inventory", "export", "--partition", KEY, "-o", str(target))
    assert result.exit_code == 2 and "the conflicts cannot be read" in result.output
    assert (target.read_text(), beside.read_text()) == (
        "last week's inventory",
        "last week's conflicts",
    )
    assert sorted(p.name for p in out.iterdir()) == ["inventory.conflicts.csv", "inventory.csv"]
