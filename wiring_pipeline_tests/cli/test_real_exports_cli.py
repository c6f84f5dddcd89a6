"""Issue 22's acceptance: each shared real export, as it comes, reaches the inventory through
`flow add --from FILE`, `import` and `run`, with no file edited and no mapping written by
hand: every VM or server row an asset, sizes in GiB, the identity key on every row."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from wiring_pipeline.cli.main import cli
from wiring_pipeline_tests.support.export_shapes import real_export

#: file, sheet, the rows it holds, and one machine's expected name and sizes (GiB).
CASES = [
    ("SizingWorkshop-RVTools.xlsx", None, 805, ("wadfs1", 4, None)),
    ("rvtools-small-complete.xlsx", None, 3, ("sample-web-01", 8, 120)),
    ("AzureMigrateimporttemplate.csv", None, 10, ("VM001.corp.contoso.com", 4, 75)),
    ("describe_instances.json", None, 3, ("i-0dfd3c6910a276fa5", None, None)),
]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(("name", "sheet", "rows", "machine"), CASES, ids=[c[0] for c in CASES])
def test_a_real_export_reaches_the_inventory_as_it_comes(engine, name, sheet, rows, machine):
    path = real_export(name)
    key = "real.exports"
    assert run("tenant", "add", key).exit_code == 0
    added = run("flow", "add", "--partition", key, "--from", str(path), "--name", "source")
    assert added.exit_code == 0, added.output
    flow = json.loads(added.stdout)
    imported = run("import", str(path), "--partition", key, "--flow", "source")
    assert imported.exit_code == 0, imported.output
    ran = run("run", "--partition", key)
    assert ran.exit_code == 0, ran.output

    with engine.connect() as conn:
        scope = dict(
            conn.execute(
                text(
                    "SELECT e.client_account_id, e.id AS engagement_id"
                    " FROM migration.engagements e JOIN migration.client_accounts c"
                    " ON c.id = e.client_account_id"
                    " WHERE c.slug = 'real' AND e.slug = 'exports'"
                )
            )
            .one()
            ._mapping
        )
        assets = {
            row.name: row
            for row in conn.execute(
                text(
                    "SELECT name, memory_gb, storage_gb, identity_key FROM migration.assets"
                    " WHERE client_account_id = :client_account_id"
                    " AND engagement_id = :engagement_id"
                ),
                scope,
            )
        }
    assert len(assets) == rows
    assert all(asset.identity_key for asset in assets.values())
    expected_name, memory, storage = machine
    assert expected_name in assets, sorted(assets)[:5]
    if memory is not None:
        assert assets[expected_name].memory_gb == memory
    if storage is not None:
        assert assets[expected_name].storage_gb == storage
    assert flow["spec"]["key"], flow["spec"]
