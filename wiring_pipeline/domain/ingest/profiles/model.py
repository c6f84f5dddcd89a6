"""What a profile declares, and the concrete flow spec of one file of its shape
(`resolve_profile`).

A declaration names columns as the tool writes them, with alternatives where versions of
the tool differ (`Provisioned MiB` in RVTools 4, `Provisioned MB` before, `vInfoProvisioned`
in its command-line CSV). Only the alternatives a file has end in its spec, in the declared
order, so the cleansing takes the first non-empty one. A column's unit is read from its
header (`Provisioned MiB`); a profile declares units only for headers that name none
(RVTools' `Memory` is MiB and says so nowhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from wiring_pipeline.domain.contract.fields import CRITICAL_FIELDS, INVENTORY_FIELDS
from wiring_pipeline.domain.contract.flow_spec import SIZED_FIELDS, UNITS, FlowSpec
from wiring_pipeline.domain.ingest.headers import header_key, header_unit

#: The fields a source of each role knows best (DESIGN 3e): hypervisor, discovery and cloud
#: exports measure the machine; a CMDB records what the organisation decided about it.
MEASURED_FIELDS = ("cpu_cores", "memory_gb", "storage_gb", "operating_system", "power_state")
RECORDED_FIELDS = ("owner", "environment", "business_unit", "criticality", "application_name")
#: Role -> (fields it wins, fields it yields). A per-field precedence for 3e: 0 wins over a
#: source that says nothing of the field (1), which wins over one that yields it (2).
ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "inventory-tool": (MEASURED_FIELDS, RECORDED_FIELDS),
    "cloud": (MEASURED_FIELDS, RECORDED_FIELDS),
    "cmdb": (RECORDED_FIELDS, MEASURED_FIELDS),
}
WINS, NEUTRAL, YIELDS = 0, 1, 2

#: A critical field no column gives, set so that the flow is accepted and no row rejected:
#: what a consultant would write by hand. Always reported as a warning, so that nobody
#: mistakes `unknown` for what the source said. `name` has no default: a made-up name
#: would merge machines, so a file without one is reported as missing it.
CRITICAL_DEFAULTS = {"asset_type": "server", "environment": "unknown"}


@dataclass(frozen=True)
class Profile:
    """One export shape, declared once (see `declarations.py`)."""

    name: str
    title: str
    #: `inventory-tool`, `cloud` or `cmdb`: which fields this source wins (ROLES).
    role: str
    #: Groups of columns; the file must have one column of each group.
    signature: tuple[tuple[str, ...], ...]
    #: Field -> its columns, tried in order.
    fields: dict[str, tuple[str, ...]]
    #: Column -> unit, for size columns whose header names no unit.
    units: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    #: Candidate identity keys, in order: the first whose columns the file has is used.
    identity: tuple[tuple[str, ...], ...] = ()
    #: The worksheet the tool writes this shape to, when it writes a workbook.
    sheet: str | None = None
    #: Where the tool's JSON document keeps its records.
    records_path: str | None = None

    def __post_init__(self) -> None:
        problems = [f for f in [*self.fields, *self.constants] if f not in INVENTORY_FIELDS]
        problems += [
            f"{column} has no unit"
            for target in SIZED_FIELDS
            for column in self.fields.get(target, ())
            if self.unit_of(column) is None
        ]
        problems += [f"unit {u}" for u in self.units.values() if u not in UNITS]
        if self.role not in ROLES:
            problems.append(f"role {self.role}")
        if problems:
            raise ValueError(f"profile {self.name}: {', '.join(problems)}")

    def unit_of(self, column: str) -> str | None:
        return self.units.get(column) or header_unit(column)

    @property
    def field_precedence(self) -> dict[str, int]:
        """Field -> WINS or YIELDS, for the reconciliation's per-field precedence (3e)."""
        wins, yields = ROLES[self.role]
        return {name: YIELDS for name in yields} | {name: WINS for name in wins}

    def declared_columns(self) -> set[str]:
        """Every column the declaration names, folded as the readers match them."""
        named = [*self.fields.values(), *self.signature, *self.identity]
        return {header_key(column) for group in named for column in group}


def resolve_profile(
    profile: Profile,
    header_columns: Iterable[str],
    sheet: str | None = None,
    records_path: str | None = None,
) -> FlowSpec:
    """The flow spec of one file of the profile's shape.

    `sheet` and `records_path` say how this file was read (the worksheet of a workbook, the
    path of a wrapping JSON document); a CSV of the same shape has neither. Columns are
    spelt as the file spells them; a critical field the file cannot give gets its default
    (CRITICAL_DEFAULTS; `critical_defaults` says which, for a warning).
    """
    by_key = {header_key(column): column for column in header_columns}
    mappings: dict[str, str] = {}
    units: dict[str, str] = {}
    for target, columns in profile.fields.items():
        for column in columns:
            found = by_key.get(header_key(column))
            if found is None or found in mappings:
                continue
            mappings[found] = target
            if target in SIZED_FIELDS:
                units[found] = profile.unit_of(column)
    key = next(
        (
            tuple(by_key[header_key(c)] for c in candidate)
            for candidate in profile.identity
            if all(header_key(c) in by_key for c in candidate)
        ),
        (),
    )
    constants = dict(profile.constants)
    constants |= critical_defaults(set(mappings.values()) | set(constants))
    return FlowSpec(
        mappings, units, constants, key, sheet, records_path, profile.name, profile.field_precedence
    )


def critical_defaults(covered: set[str]) -> dict[str, str]:
    """The defaults of the critical fields not in `covered` (mapped or set)."""
    return {
        name: CRITICAL_DEFAULTS[name]
        for name in CRITICAL_FIELDS
        if name not in covered and name in CRITICAL_DEFAULTS
    }
