"""Next week's export: the re-import the benchmark and the demo measure and tell."""

from __future__ import annotations

from wiring_pipeline.samples import cmdb_generator as gen


def test_next_export_changes_ten_percent_drops_one_and_adds_one():
    week1 = list(gen.iter_cmdb_rows(7, 1_000))
    week2 = list(gen.iter_next_export(week1))
    hosts1 = {row["Hostname"] for row in week1}
    hosts2 = {row["Hostname"] for row in week2}
    assert len(week2) == 1_000
    assert len(hosts2 - hosts1) == 10  # new servers
    assert {week1[i]["Hostname"] for i in range(0, 1_000, 100)} == hosts1 - hosts2
    by_host = {row["Hostname"]: row for row in week1}
    changed = [
        row for row in week2 if row["Hostname"] in by_host and row != by_host[row["Hostname"]]
    ]
    assert 90 <= len(changed) <= 100  # a repeated source row may shadow its changed copy
    assert all(row["Owner"].endswith(".next") for row in changed)
    assert list(gen.iter_next_export(week1)) == week2  # deterministic
