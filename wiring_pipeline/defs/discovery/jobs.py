"""`discovery_inventory_job`: files → raw records → cleansed → inventory → health, per partition.

Its assets are partitioned by `tenant_engagements`, so every run of it is too, and Dagster
tags it `dagster/partition=<key>`: the instance's `dagster.yaml` lets one run per tag value
go at a time, and the partition's advisory lock serialises in-process runs that bypass the
run queue.
"""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from wiring_pipeline.defs.discovery.assets import (
    asset_inventory,
    cleansed_import_records,
    raw_import_records,
)
from wiring_pipeline.defs.health.assets import wiring_health

discovery_inventory_job = define_asset_job(
    name="discovery_inventory_job",
    selection=AssetSelection.assets(
        raw_import_records, cleansed_import_records, asset_inventory, wiring_health
    ),
    description="Load a partition's pending imports, cleanse, build the inventory, measure health.",
)
