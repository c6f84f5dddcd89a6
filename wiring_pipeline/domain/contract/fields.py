"""The inventory fields a discovery flow may map source columns onto."""

from __future__ import annotations

from wiring_pipeline.domain.core.errors import UserInputError

#: Target field -> kind. Each is a column of `migration.assets`.
INVENTORY_FIELDS: dict[str, str] = {
    "name": "text",
    "asset_type": "enum",
    "environment": "enum",
    "hostname": "text",
    "ip_address": "text",
    "operating_system": "text",
    "os_version": "text",
    "cpu_cores": "integer",
    "memory_gb": "number",
    "storage_gb": "number",
    "owner": "text",
    "location": "text",
    "business_unit": "text",
    "application_name": "text",
    "criticality": "enum",
    "description": "text",
    "serial_number": "text",
    "manufacturer": "text",
    "model": "text",
    # What the exports of hypervisors and clouds carry, and a migration needs (DESIGN 3d).
    "power_state": "enum",
    "bios_uuid": "text",
    "fqdn": "text",
    "mac_address": "text",
    "cloud_instance_id": "text",
    "instance_type": "text",
    "cluster": "text",
    "hypervisor_host": "text",
    "datacenter": "text",
}

#: A cleansed record without all of these is rejected (source plan, phase 2).
CRITICAL_FIELDS: tuple[str, ...] = ("name", "asset_type", "environment")


class FieldMappingError(UserInputError):
    """A flow's field mappings name a target field the inventory does not have."""


def source_columns(
    mappings: dict[str, str] | None, identity_key_columns: list[str] | None
) -> tuple[str, ...]:
    """The source columns a flow reads: those it maps, then those of its identity key.

    What `import` checks a file for, and what the loader matches trimmed and in any case.
    """
    return tuple(dict.fromkeys([*(mappings or ()), *(identity_key_columns or ())]))
