"""The figures of a benchmark run: timings per stage, ratios, and the DESIGN targets."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

from wiring_pipeline.bench.second_source import Matching
from wiring_pipeline.bench.write_floor import WriteFloor

STAGES = ("load", "cleanse", "inventory", "health")

#: What the targets of DESIGN section 5 compare against.
TARGETS = {
    "end_to_end_vs_floor_max": 1.5,
    "end_to_end_vs_write_floor_max": 2.5,
    "inventory_vs_per_row_min": 10.0,
    "peak_rss_mb_max": 500.0,
    "small_partition_health_ms_max": 50.0,
    "reimport_inventory_vs_first_max": 1.5,
    "reconciliation_inventory_vs_first_max": 1.5,
    "reconciliation_precision_min": 1.0,
    "reconciliation_recall_min": 0.98,
}


@dataclass(frozen=True)
class Timing:
    seconds: float
    rows: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def as_json(self) -> dict:
        return {
            "seconds": round(self.seconds, 4),
            "rows": self.rows,
            "rows_per_second": round(self.rows_per_second, 1),
        }


@dataclass
class Approach:
    """The stage timings of one way of doing the work, and the peak RSS when it ended."""

    stages: dict[str, Timing] = field(default_factory=dict)
    peak_rss_mb: float = 0.0

    @property
    def total(self) -> Timing:
        rows = max(t.rows for t in self.stages.values())
        return Timing(sum(t.seconds for t in self.stages.values()), rows)

    def as_json(self) -> dict:
        stages = {name: timing.as_json() for name, timing in self.stages.items()}
        return {
            "stages": stages,
            "total": self.total.as_json(),
            "peak_rss_mb_at_end": round(self.peak_rss_mb, 1),
        }


@dataclass(frozen=True)
class SecondSource:
    """`--sources 2`: the second source's stages, and its matching against the truth."""

    run: Approach
    matching: Matching
    generation_seconds: float


_COMPARISONS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}


def _target(value: float | None, comparison: str, limit: str) -> dict:
    """One target of DESIGN section 5: the figure, the target as text, and whether it is met."""
    bound = TARGETS[limit]
    met = value is not None and _COMPARISONS[comparison](value, bound)
    return {"value": value, "target": f"{comparison} {bound}", "met": met}


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def figures(
    *,
    records: int,
    per_row_records: int,
    machine: dict,
    generation_seconds: float,
    pipeline_run: Approach,
    reimport_run: Approach,
    floor_run: Approach,
    write_floor: WriteFloor,
    per_row_inventory: Timing,
    differences: dict[str, int],
    small_health: dict,
    rss: dict[str, float],
    small_partition_records: int,
    second_source: SecondSource | None = None,
) -> dict:
    """Every figure of a run as JSON, with the stage ratios and the targets met or not;
    with a second source, its section and the reconciliation's three targets."""
    comparison = {}
    for stage in (*STAGES, "total"):
        ours = pipeline_run.total if stage == "total" else pipeline_run.stages[stage]
        base = floor_run.total if stage == "total" else floor_run.stages[stage]
        row = {
            "pipeline_seconds": round(ours.seconds, 4),
            "pipeline_rows_per_second": round(ours.rows_per_second, 1),
            "floor_seconds": round(base.seconds, 4),
            "ratio_to_floor": ratio(ours.seconds, base.seconds),
            "ratio_to_per_row": None,
            "ratio_to_write_floor": None,
        }
        if stage == "inventory":
            row["ratio_to_per_row"] = ratio(ours.rows_per_second, per_row_inventory.rows_per_second)
        if stage == "total":
            row["ratio_to_write_floor"] = ratio(ours.seconds, write_floor.seconds)
        comparison[stage] = row
    end_to_end = comparison["total"]["ratio_to_floor"]
    end_to_end_write = comparison["total"]["ratio_to_write_floor"]
    inventory_speedup = comparison["inventory"]["ratio_to_per_row"]
    pipeline_rss = rss["after_pipeline"]
    reimport_ratio = ratio(
        reimport_run.stages["inventory"].seconds, pipeline_run.stages["inventory"].seconds
    )
    result = {
        "records": records,
        "per_row_records": per_row_records,
        "small_partition_records": small_partition_records,
        "machine": machine,
        "generation_seconds": round(generation_seconds, 3),
        "pipeline": pipeline_run.as_json(),
        "reimport": reimport_run.as_json(),
        "floor": floor_run.as_json(),
        # Per source record like every other timing, so its rows/s reads beside the pipeline's.
        "write_floor": {
            **Timing(write_floor.seconds, records).as_json(),
            "rows_per_table": dict(write_floor.rows_per_table),
        },
        "per_row": {"stages": {"inventory": per_row_inventory.as_json()}},
        "comparison": comparison,
        "peak_rss_mb": {name: round(value, 1) for name, value in rss.items()},
        "small_partition_health": small_health,
        "floor_differences": differences,
        "targets": {
            "end_to_end_vs_floor": _target(end_to_end, "<=", "end_to_end_vs_floor_max"),
            "end_to_end_vs_write_floor": _target(
                end_to_end_write, "<=", "end_to_end_vs_write_floor_max"
            ),
            "inventory_vs_per_row": _target(inventory_speedup, ">=", "inventory_vs_per_row_min"),
            "peak_rss_mb": _target(round(pipeline_rss, 1), "<", "peak_rss_mb_max"),
            "small_partition_health_ms": _target(
                small_health["median_ms"], "<", "small_partition_health_ms_max"
            ),
            "reimport_inventory_vs_first": _target(
                reimport_ratio, "<=", "reimport_inventory_vs_first_max"
            ),
        },
    }
    if second_source is not None:
        _add_second_source(result, second_source, pipeline_run.stages["inventory"])
    return result


def _add_second_source(result: dict, second: SecondSource, first_inventory: Timing) -> None:
    """The second source's section and targets: its inventory against the first's, and
    the matching's precision and recall against the generated truth."""
    inventory_ratio = ratio(second.run.stages["inventory"].seconds, first_inventory.seconds)
    matching = second.matching
    result["second_source"] = {
        **second.run.as_json(),
        "generation_seconds": round(second.generation_seconds, 3),
        "inventory_vs_first": inventory_ratio,
        "matching": matching.as_json(),
    }
    result["targets"] |= {
        "reconciliation_inventory_vs_first": _target(
            inventory_ratio, "<=", "reconciliation_inventory_vs_first_max"
        ),
        "reconciliation_precision": _target(
            matching.precision, ">=", "reconciliation_precision_min"
        ),
        "reconciliation_recall": _target(matching.recall, ">=", "reconciliation_recall_min"),
    }
