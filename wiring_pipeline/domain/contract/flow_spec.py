"""A discovery flow as a spec: what each source column means, in which unit, and what the
source lacks.

Exports come as tools write them (DESIGN 3d): RVTools gives memory in MiB and has no
environment column, Azure Migrate gives memory in MB, an EC2 listing names a machine by a
tag that not every instance has. A flow therefore says, beside its mappings:

* a unit per mapped size column (`{"Memory": {"field": "memory_gb", "unit": "MiB"}}`):
  cleansing converts to the field's unit (GiB, 1 GB = 1024 MB as the exports mean it);
* constants for fields the source lacks (`{"asset_type": "virtual_machine"}`): the value of
  the field when no mapped column gives one;
* several columns for one field, in order: the first non-empty one gives the value
  (`Tags.Name`, else `InstanceId`);
* the identity key, the worksheet and, for a JSON document, the path to its records.

One spec is read from either today's flat `{column: field}` object or the whole form, and
written back in the whole form (`as_json`), so what `flow suggest` prints is what `flow
add --mappings` takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from wiring_pipeline.domain.contract.fields import (
    CRITICAL_FIELDS,
    INVENTORY_FIELDS,
    FieldMappingError,
)

#: Each unit's size in GiB, the unit of `memory_gb` and `storage_gb`. The decimal prefixes
#: mean what the exports mean by them (RVTools and Azure say MB for 2^20 bytes).
UNITS: dict[str, Decimal] = {
    "B": Decimal(1) / 2**30,
    "KB": Decimal(1) / 2**20,
    "KiB": Decimal(1) / 2**20,
    "MB": Decimal(1) / 2**10,
    "MiB": Decimal(1) / 2**10,
    "GB": Decimal(1),
    "GiB": Decimal(1),
    "TB": Decimal(2**10),
    "TiB": Decimal(2**10),
}
#: The fields that hold a size, and so may carry a unit.
SIZED_FIELDS: tuple[str, ...] = ("memory_gb", "storage_gb")
#: Longest constant value, as a cell.
MAX_CONSTANT_CHARS = 1_000
#: `Reservations[].Instances[]`: keys from the document's root, `[]` after each list.
RECORDS_PATH = re.compile(r"^[^\[\].]+(\[\])?(\.[^\[\].]+(\[\])?)*$")
_SPEC_KEYS = {
    "mappings",
    "constants",
    "key",
    "sheet",
    "records_path",
    "profile",
    "field_precedence",
}


@dataclass(frozen=True)
class FlowSpec:
    #: Source column -> inventory field, in order (earlier columns win for one field).
    mappings: dict[str, str]
    #: Source column -> unit, for mapped size columns.
    units: dict[str, str] = field(default_factory=dict)
    #: Inventory field -> value, when no mapped column gives one.
    constants: dict[str, str] = field(default_factory=dict)
    #: Source columns identifying an asset across imports; empty: the default rule.
    identity_key: tuple[str, ...] = ()
    sheet: str | None = None
    #: Where a JSON document keeps its records, e.g. `Reservations[].Instances[]`.
    records_path: str | None = None
    #: The export profile the spec was made from, if any.
    profile: str | None = None
    #: Field -> rank against other sources describing one machine, before the flows' own
    #: precedence (DESIGN 3e): 0 wins, 1 is neutral (a field not named), 2 yields.
    field_precedence: dict[str, int] = field(default_factory=dict)

    @property
    def covered_fields(self) -> set[str]:
        """The fields a record of this flow can have: mapped or set."""
        return set(self.mappings.values()) | set(self.constants)

    def missing_critical(self) -> list[str]:
        """Critical fields neither mapped nor set: every record would be rejected."""
        return [name for name in CRITICAL_FIELDS if name not in self.covered_fields]

    def columns_of(self, target: str) -> list[str]:
        """The source columns of one field, in the order they are tried."""
        return [column for column, mapped in self.mappings.items() if mapped == target]

    def as_json(self) -> dict:
        """The whole form, as `parse_flow_spec` reads it back."""
        mappings = {
            column: {"field": target, "unit": self.units[column]}
            if column in self.units
            else target
            for column, target in self.mappings.items()
        }
        spec: dict = {"mappings": mappings}
        if self.constants:
            spec["constants"] = dict(self.constants)
        if self.identity_key:
            spec["key"] = list(self.identity_key)
        for name in ("sheet", "records_path", "profile"):
            if getattr(self, name):
                spec[name] = getattr(self, name)
        if self.field_precedence:
            spec["field_precedence"] = dict(self.field_precedence)
        return spec


def spec_of(flow: dict) -> FlowSpec:
    """The spec a stored flow stands for, its mappings in their order."""
    return FlowSpec(
        ordered_mappings(flow),
        dict(flow.get("field_units") or {}),
        dict(flow.get("field_constants") or {}),
        tuple(flow.get("identity_key_columns") or ()),
        flow.get("sheet_name"),
        flow.get("records_path"),
        flow.get("profile"),
        dict(flow.get("field_precedence") or {}),
    )


def ordered_mappings(flow: dict) -> dict[str, str]:
    """A flow's `{column: field}` in the spec's order (JSONB keeps no key order)."""
    mappings = dict(flow["field_mappings"] or {})
    order = [column for column in flow.get("field_mapping_order") or () if column in mappings]
    return {column: mappings[column] for column in [*order, *mappings] if column in mappings}


def parse_flow_spec(document: object, sets: tuple[str, ...] | list[str] = ()) -> FlowSpec:
    """A flow spec from a flat `{column: field}` object or the whole form, plus `--set`s.

    Every problem is a FieldMappingError naming what is wrong (exit 2 at the command line).
    """
    if not isinstance(document, dict) or not document:
        raise FieldMappingError(
            "field mappings must be a non-empty JSON object: {column: field} or "
            '{"mappings": {...}, "constants": {...}, "key": [...], "sheet": ..., '
            '"records_path": ...}'
        )
    whole = isinstance(document.get("mappings"), dict) and set(document) <= _SPEC_KEYS
    raw_mappings = document["mappings"] if whole else document
    mappings, units = _mappings(raw_mappings)
    constants = _constants(document.get("constants", {}) if whole else {})
    constants.update(parse_sets(sets))
    key = document.get("key", []) if whole else []
    if isinstance(key, str):
        key = [key]
    if not isinstance(key, list) or not all(isinstance(c, str) and c.strip() for c in key):
        raise FieldMappingError('"key" must be a list of source column names')
    return FlowSpec(
        mappings,
        units,
        constants,
        tuple(key),
        _optional_text(document, "sheet") if whole else None,
        _records_path(document.get("records_path")) if whole else None,
        _optional_text(document, "profile") if whole else None,
        _field_precedence(document.get("field_precedence", {}) if whole else {}),
    )


def _field_precedence(raw: object) -> dict[str, int]:
    if not isinstance(raw, dict) or not all(
        field_name in INVENTORY_FIELDS and type(rank) is int and 0 <= rank <= 2
        for field_name, rank in raw.items()
    ):
        raise FieldMappingError(
            '"field_precedence" must map inventory fields to 0 (wins), 1 or 2 (yields)'
        )
    return dict(raw)


def _mappings(raw: dict) -> tuple[dict[str, str], dict[str, str]]:
    mappings: dict[str, str] = {}
    units: dict[str, str] = {}
    unknown = []
    for column, target in raw.items():
        if not isinstance(column, str) or not column.strip() or "\x00" in column:
            raise FieldMappingError("a source column name is empty or not text")
        unit = None
        if isinstance(target, dict):
            extra = set(target) - {"field", "unit"}
            if extra:
                raise FieldMappingError(
                    f"mapping of {column!r}: unknown key(s) {', '.join(sorted(extra))}"
                )
            target, unit = target.get("field"), target.get("unit")
        if not isinstance(target, str) or target not in INVENTORY_FIELDS:
            unknown.append(f"{column!r} -> {target!r}")
            continue
        if unit is not None:
            units[column] = _unit(column, target, unit)
        mappings[column] = target
    if unknown:
        raise FieldMappingError(
            f"unknown target field(s): {', '.join(sorted(unknown))}; "
            f"known fields are: {', '.join(INVENTORY_FIELDS)}"
        )
    if not mappings:
        raise FieldMappingError("the flow maps no source column")
    return mappings, units


def _unit(column: str, target: str, unit: object) -> str:
    if target not in SIZED_FIELDS:
        raise FieldMappingError(
            f"mapping of {column!r}: {target} has no unit (units are for {', '.join(SIZED_FIELDS)})"
        )
    by_fold = {name.casefold(): name for name in UNITS}
    if not isinstance(unit, str) or unit.strip().casefold() not in by_fold:
        raise FieldMappingError(
            f"mapping of {column!r}: unknown unit {unit!r}; units are {', '.join(UNITS)}"
        )
    return by_fold[unit.strip().casefold()]


def _constants(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise FieldMappingError('"constants" must be an object of field -> value')
    constants = {}
    for target, value in raw.items():
        constants[_constant_field(target)] = _constant_value(target, value)
    return constants


def parse_sets(sets: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--set FIELD=VALUE` options as constants."""
    constants = {}
    for assignment in sets:
        target, equals, value = assignment.partition("=")
        if not equals:
            raise FieldMappingError(f"--set {assignment!r}: expected FIELD=VALUE")
        constants[_constant_field(target.strip())] = _constant_value(target, value)
    return constants


def _constant_field(target: object) -> str:
    if not isinstance(target, str) or target not in INVENTORY_FIELDS:
        raise FieldMappingError(
            f"unknown field {target!r} for a constant; known fields are: "
            f"{', '.join(INVENTORY_FIELDS)}"
        )
    return target


def _constant_value(target: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FieldMappingError(f"constant {target!r}: the value must be text or a number")
    text = str(value).strip()
    if not text or len(text) > MAX_CONSTANT_CHARS or "\x00" in text:
        raise FieldMappingError(
            f"constant {target!r}: the value must be 1 to {MAX_CONSTANT_CHARS} characters"
        )
    return text


def _optional_text(document: dict, name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise FieldMappingError(f'"{name}" must be a non-empty name')
    return value.strip()


def _records_path(value: object) -> str | None:
    """`Reservations[].Instances[]`: keys from the document's root, `[]` for each list."""
    if value is None:
        return None
    if not isinstance(value, str) or not RECORDS_PATH.match(value.strip()):
        raise FieldMappingError(
            f'"records_path" {value!r} is not a path such as Reservations[].Instances[]'
        )
    return value.strip()
