"""The figures of a run: the ratio to the write floor and the verdict of its target."""

from __future__ import annotations

import pytest

from wiring_pipeline.bench.figures import STAGES, TARGETS, Approach, Timing, figures
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
