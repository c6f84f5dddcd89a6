"""A full export holding a fraction of the estate retires nothing until a person decides
(DESIGN 3f): `run` says so and exits 1, a WARN check fails, `--confirm-retire` or a
re-import with `--partial` settles it."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import text

from wiring_pipeline.cli.main import cli
from wiring_pipeline_tests.support import reimport_data as data

KEY = "acme.guarded"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def current(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM migration.assets WHERE current_phase <> 'retired'")
        ).scalar()


def start(tmp_path) -> None:
    assert invoke("tenant", "add", KEY).exit_code == 0
    spec = tmp_path / "mappings.json"
    spec.write_text(json.dumps(data.MAPPINGS))
    assert invoke("flow", "add", "--partition", KEY, "--mappings", str(spec), "--name", "cmdb")
    week_one = data.write(tmp_path / "week1.csv", data.week_one())
    assert invoke("import", str(week_one), "--partition", KEY, "--flow", "cmdb").exit_code == 0
    assert invoke("run", "--partition", KEY).exit_code == 0


def import_one_sheet(tmp_path, *options: str) -> dict:
    """8 of the 20 servers, as a full export: 12 retirements, 60 % of the estate."""
    sheet = data.write(tmp_path / "one-sheet.csv", data.week_one()[:8])
    done = invoke("import", str(sheet), "--partition", KEY, "--flow", "cmdb", *options)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_a_held_retirement_is_reported_and_applied_once_confirmed(engine, tmp_path):
    start(tmp_path)
    held_import = import_one_sheet(tmp_path)

    ran = invoke("run", "--partition", KEY)

    assert ran.exit_code == 1 and current(engine) == 20
    advice = f"if it is the whole estate, run --confirm-retire {held_import['id']}"
    assert f"one-sheet.csv would retire 12 current assets; {advice}" in ran.stderr
    health = json.loads(ran.stdout)
    assert health["metrics"]["retirements_held"] == 1
    assert health["inventory_changes"]["retirements_held"] == [
        {"import_id": held_import["id"], "filename": "one-sheet.csv", "would_retire": 12}
    ]
    again = invoke("run", "--partition", KEY)  # still held, still said
    assert again.exit_code == 1 and "retirement held" in again.stderr

    confirmed = invoke("run", "--partition", KEY, "--confirm-retire", held_import["id"])

    assert confirmed.exit_code == 0, confirmed.output
    assert current(engine) == 8
    assert json.loads(confirmed.stdout)["metrics"]["retirements_held"] == 0
    twice = invoke("run", "--partition", KEY, "--confirm-retire", held_import["id"])
    assert twice.exit_code == 2 and "holds no retirement to confirm" in twice.output


def test_importing_the_file_again_as_partial_drops_the_held_retirement(engine, tmp_path):
    start(tmp_path)
    held_import = import_one_sheet(tmp_path)
    assert invoke("run", "--partition", KEY).exit_code == 1

    partial = import_one_sheet(tmp_path, "--partial")

    assert partial["duplicate_of"] == held_import["id"] and partial["is_partial"] is True
    ran = invoke("run", "--partition", KEY)
    assert ran.exit_code == 0, ran.output
    assert current(engine) == 20 and "retirement held" not in ran.stderr


def test_a_small_decommissioning_is_not_held(engine, tmp_path):
    start(tmp_path)
    week_two = data.write(tmp_path / "week2.csv", data.week_two())  # 3 of 20 gone
    assert invoke("import", str(week_two), "--partition", KEY, "--flow", "cmdb").exit_code == 0
    ran = invoke("run", "--partition", KEY)
    assert ran.exit_code == 0 and "retirement held" not in ran.stderr
