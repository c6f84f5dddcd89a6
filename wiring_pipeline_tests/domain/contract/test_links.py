"""Every link of the contract has its orphan metric, check and foreign key under one name."""

from __future__ import annotations

from wiring_pipeline.domain.contract.constraints import FOREIGN_KEYS
from wiring_pipeline.domain.contract.links import LINKS
from wiring_pipeline.domain.contract.metrics import METRICS, METRICS_BY_NAME

#: DESIGN section 3's metrics and the completeness one, in the order the JSON and the checks
#: have always had: the public contract.
PUBLISHED_ORDER = [
    "flow_based_assets_missing_discovery_flow_id",
    "all_assets_missing_discovery_flow_id",
    "assets_with_orphan_raw_import_ref",
    "raw_records_with_orphan_asset_ref",
    "unprocessed_raw_records",
    "assets_with_orphan_flow_ref",
    "asymmetric_links",
    "source_rows_not_in_inventory",
]


def test_every_link_has_its_orphan_metric_with_the_links_severity():
    for link in LINKS:
        metric = METRICS_BY_NAME.get(link.orphan_metric)
        assert metric is not None, f"link {link.name} has no orphan metric"
        assert (metric.severity, metric.blocking) == (link.severity, link.blocking), link.name
        [part] = metric.parts
        assert part.table == link.table and f"t.{link.column} IS NOT NULL" in part.predicate


def test_every_foreign_key_the_constraints_job_validates_has_a_metric_saying_so():
    metric_of_key = {fk.name: fk.link.orphan_metric for fk in FOREIGN_KEYS}
    assert set(metric_of_key.values()) <= set(METRICS_BY_NAME)


def test_the_published_metrics_keep_their_order_and_the_new_ones_come_after():
    names = [metric.name for metric in METRICS]
    assert names == [
        *PUBLISHED_ORDER,
        "raw_records_with_orphan_superseded_by",
        "asset_sources_with_orphan_source_asset_ref",
        "asset_sources_with_orphan_source_flow_ref",
        "asset_sources_with_orphan_source_raw_import_ref",
        "open_match_candidates",
        "asset_field_conflicts",
        "retirements_held",
    ]
    superseded = METRICS_BY_NAME["raw_records_with_orphan_superseded_by"]
    assert (superseded.severity, superseded.blocking) == ("ERROR", True)
    assert superseded.description == (
        "raw records whose superseded_by names no raw record of this tenant and engagement"
    )
