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
}

#: A cleansed record without all of these is rejected (source plan, phase 2).
CRITICAL_FIELDS: tuple[str, ...] = ("name", "asset_type", "environment")


class FieldMappingError(UserInputError):
    """A flow's field mappings name a target field the inventory does not have."""


def validate_field_mappings(mappings: object) -> dict[str, str]:
    """Check a `source column -> target field` mapping and return it as a plain dict."""
    if not isinstance(mappings, dict) or not mappings:
        raise FieldMappingError(
            "field mappings must be a non-empty JSON object of source column -> target field"
        )
    unknown = sorted(
        f"{source!r} -> {target!r}"
        for source, target in mappings.items()
        if not isinstance(target, str) or target not in INVENTORY_FIELDS
    )
    if unknown:
        raise FieldMappingError(
            f"unknown target field(s): {', '.join(unknown)}; "
            f"known fields are: {', '.join(INVENTORY_FIELDS)}"
        )
    blank = [source for source in mappings if not str(source).strip()]
    if blank:
        raise FieldMappingError("a source column name is empty")
    targets = list(mappings.values())
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise FieldMappingError(f"target field(s) mapped more than once: {', '.join(doubled)}")
    return {str(source): str(target) for source, target in mappings.items()}


def source_columns(
    mappings: dict[str, str] | None, identity_key_columns: list[str] | None
) -> tuple[str, ...]:
    """The source columns a flow reads: those it maps, then those of its identity key.

    What `import` checks a file for, and what the loader matches trimmed and in any case.
    """
    return tuple(dict.fromkeys([*(mappings or ()), *(identity_key_columns or ())]))
