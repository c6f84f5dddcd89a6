"""Flows as specs (units, constants, sheet, records path, profile) and the inventory fields
that hypervisor and cloud exports carry; flow names unique per partition.

Exports as tools write them (DESIGN 3d) need a unit per size column, constants for fields
the source lacks and, for JSON documents, the path to the records; the flow keeps them
beside its mappings, with the mappings' order (JSONB keeps no key order, and for several
columns of one field the first non-empty one wins). The assets gain the fields a migration
needs and the profiles map: power state, BIOS/VM UUID, FQDN, MAC, cloud instance id and
type, cluster, host, datacenter. A flow's name identifies it on the command line, so two
flows of one partition may not share one (a removed flow gives its name up): existing
duplicates (possible before) keep the oldest flow's name and the later ones get a ` (2)`,
` (3)` suffix.

Revision ID: 0013_flow_specs_export_fields
Revises: 0012_api_login_lookups
"""

from alembic import op

revision = "0013_flow_specs_export_fields"
down_revision = "0012_api_login_lookups"
branch_labels = None
depends_on = None

ASSET_FIELDS = (
    "power_state",
    "bios_uuid",
    "fqdn",
    "mac_address",
    "cloud_instance_id",
    "instance_type",
    "cluster",
    "hypervisor_host",
    "datacenter",
)


def upgrade() -> None:
    op.execute(
        "ALTER TABLE migration.assets "
        + ", ".join(f"ADD COLUMN {name} text" for name in ASSET_FIELDS)
    )
    op.execute(
        """
        ALTER TABLE migration.discovery_flows
            ADD COLUMN field_mapping_order text[],
            ADD COLUMN field_units jsonb NOT NULL DEFAULT '{}'::jsonb,
            ADD COLUMN field_constants jsonb NOT NULL DEFAULT '{}'::jsonb,
            ADD COLUMN sheet_name text,
            ADD COLUMN records_path text,
            ADD COLUMN profile text;
        UPDATE migration.discovery_flows f
        SET flow_name = f.flow_name || ' (' || d.position || ')'
        FROM (
            SELECT id, row_number() OVER (
                PARTITION BY client_account_id, engagement_id, lower(flow_name)
                ORDER BY created_at, id) AS position
            FROM migration.discovery_flows WHERE flow_name IS NOT NULL
        ) AS d
        WHERE d.id = f.id AND d.position > 1;
        CREATE UNIQUE INDEX uq_discovery_flows_tenant_flow_name
            ON migration.discovery_flows (client_account_id, engagement_id, lower(flow_name))
            WHERE flow_name IS NOT NULL AND status <> 'removed';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX migration.uq_discovery_flows_tenant_flow_name;
        ALTER TABLE migration.discovery_flows
            DROP COLUMN field_mapping_order, DROP COLUMN field_units,
            DROP COLUMN field_constants, DROP COLUMN sheet_name,
            DROP COLUMN records_path, DROP COLUMN profile;
        """
    )
    op.execute(
        "ALTER TABLE migration.assets " + ", ".join(f"DROP COLUMN {name}" for name in ASSET_FIELDS)
    )
