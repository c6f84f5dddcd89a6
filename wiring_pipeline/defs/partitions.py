"""The partitioning of every per-tenant Dagster asset and job: one partition per engagement."""

from dagster import DynamicPartitionsDefinition

#: Keys are `<client_slug>.<engagement_slug>`; `tenant_engagement_sensor` adds them.
tenant_engagements = DynamicPartitionsDefinition(name="tenant_engagements")

#: Dagster sets this tag on every partitioned run; dagster.yaml limits runs per value to one.
PARTITION_TAG = "dagster/partition"
