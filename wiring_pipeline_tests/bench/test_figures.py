"""The figures of a run: the ratios to the write floor and to the first source's inventory,
the matching's precision and recall, and the verdict of each target."""

from __future__ import annotations

import pytest

from wiring_pipeline.bench.figures import STAGES, TARGETS, Approach, SecondSource, Timing, figures
from wiring_pipeline.bench.second_source import KindScore, Matching
from wiring_pipeline.bench.write_floor import WriteFloor


def _figures(pipeline_seconds: float, write_floor_seconds: float) -> dict:
    """A run whose every approach took `pipeline_seconds`, beside the given write floor."""
    approach = Approach({stage: Timing(pipeline_seconds / len(STAGES), 100) for stage in STAGES})
    return figures(
        records=100,
        per_row_records=100,
        machine={},
        generation_seconds=0.0,
        pipeline_run=approach,
        reimport_run=approach,
        floor_run=approach,
        write_floor=WriteFloor(write_floor_seconds, {"raw_import_records": 100, "assets": 90}),
        per_row_inventory=Timing(1.0, 100),
        differences={},
        small_health={"median_ms": 1.0},
        rss={"after_pipeline": 100.0},
        small_partition_records=10,
    )


@pytest.mark.parametrize(
    ("write_floor_seconds", "ratio", "met"),
    [(2.5, 2.0, True), (2.0, 2.5, True), (1.9, 2.632, False)],
)
def test_end_to_end_over_the_write_floor_and_its_target(write_floor_seconds, ratio, met):
    result = _figures(5.0, write_floor_seconds)
    assert result["comparison"]["total"]["ratio_to_write_floor"] == ratio
    assert result["targets"]["end_to_end_vs_write_floor"] == {
        "value": ratio,
        "target": f"<= {TARGETS['end_to_end_vs_write_floor_max']}",
        "met": met,
    }
    assert result["write_floor"] == {
        "seconds": write_floor_seconds,
        "rows": 100,
        "rows_per_second": round(100 / write_floor_seconds, 1),
        "rows_per_table": {"raw_import_records": 100, "assets": 90},
    }


RECONCILIATION_TARGETS = (
    "reconciliation_inventory_vs_first",
    "reconciliation_precision",
    "reconciliation_recall",
)


def _with_second_source(inventory_seconds: float, correct: int, matched: int, shared: int):
    """A run whose first inventory took 1 s, beside a second source of the given outcome."""
    first = Approach({stage: Timing(1.0, 100) for stage in STAGES})
    timings = {"load": 0.5, "cleanse": 0.5, "inventory": inventory_seconds}
    second = SecondSource(
        run=Approach({stage: Timing(seconds, 100) for stage, seconds in timings.items()}),
        matching=Matching(
            {"case": KindScore(records=100, shared=shared, matched=matched, correct=correct)}
        ),
        generation_seconds=0.1,
    )
    return figures(
        records=100,
        per_row_records=100,
        machine={},
        generation_seconds=0.0,
        pipeline_run=first,
        reimport_run=first,
        floor_run=first,
        write_floor=WriteFloor(1.0, {}),
        per_row_inventory=Timing(1.0, 100),
        differences={},
        small_health={"median_ms": 1.0},
        rss={"after_pipeline": 100.0},
        small_partition_records=10,
        second_source=second,
    )


@pytest.mark.parametrize(
    ("inventory_seconds", "correct", "matched", "shared", "met"),
    [
        (1.5, 80, 80, 80, (True, True, True)),
        (1.6, 80, 80, 80, (False, True, True)),
        (1.0, 79, 80, 80, (True, False, True)),  # one false merge: precision < 1
        (1.0, 78, 78, 80, (True, True, False)),  # two missed of 80: recall 0.975
        (1.0, 0, 0, 80, (True, False, False)),  # nothing matched: no precision to meet
    ],
)
def test_the_reconciliation_targets_follow_their_figures(
    inventory_seconds, correct, matched, shared, met
):
    result = _with_second_source(inventory_seconds, correct, matched, shared)
    targets = result["targets"]
    assert tuple(targets[name]["met"] for name in RECONCILIATION_TARGETS) == met
    assert targets["reconciliation_inventory_vs_first"]["value"] == inventory_seconds
    assert targets["reconciliation_precision"]["value"] == (correct / matched if matched else None)
    assert targets["reconciliation_recall"]["value"] == correct / shared
    assert [targets[name]["target"] for name in RECONCILIATION_TARGETS] == [
        "<= 1.5",
        ">= 1.0",
        ">= 0.98",
    ]
    section = result["second_source"]
    assert section["inventory_vs_first"] == inventory_seconds
    assert section["matching"]["false_merges"] == matched - correct
    assert section["matching"]["missed"] == shared - correct


def test_one_source_reports_no_reconciliation():
    result = _figures(5.0, 2.5)
    assert "second_source" not in result
    assert not set(RECONCILIATION_TARGETS) & set(result["targets"])
