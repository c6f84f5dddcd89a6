"""A proposed flow spec for a file nobody declared, with the evidence for each column.

A consultant's file is first compared with the known profiles (`profiles`); a recognised
shape gives its declared spec, and its other columns (an RVTools custom attribute named
`Environment`) are matched by name onto the fields the profile leaves open. Any other file
has each column matched to a field:

1. by name: a synonym in English, German or French (`synonyms.py`), in the normal form of
   `headers.read_header` (exact, then without qualifiers such as `Primary`), then close to
   one (rapidfuzz's token-sort ratio, so that word order and typos do not matter but a
   longer header does not match a short synonym by containing it);
2. by its values, when its name says nothing (`value_detectors.py`): IP and MAC addresses,
   UUIDs, FQDNs, OS names, environment words, sizes with units.

Everything uncertain is said, not hidden: each column has a confidence and a reason, and
the warnings name every critical field set to a default, every unit guessed, and every
field two columns compete for. Nothing here reads a file or a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from wiring_pipeline.domain.contract.fields import INVENTORY_FIELDS
from wiring_pipeline.domain.contract.flow_spec import SIZED_FIELDS, FlowSpec
from wiring_pipeline.domain.ingest.headers import read_header
from wiring_pipeline.domain.ingest.profiles import (
    critical_defaults,
    recognise,
    resolve_profile,
)
from wiring_pipeline.domain.ingest.synonyms import NOT_AN_ATTRIBUTE, QUALIFIERS, SYNONYM_INDEX
from wiring_pipeline.domain.ingest.value_detectors import (
    DETECTORS,
    MEMORY_CEILING_GIB,
    guess_unit,
    sizes_with_units,
)

#: Cells of each column looked at for value detection and unit guesses.
SAMPLE_CELLS = 200
#: Lowest rapidfuzz token-sort ratio (0..100) for a header to be close to a synonym.
FUZZY_CUTOFF = 85
#: Share of a column's sampled cells a detector must accept to say what the column holds.
VALUE_SHARE = 0.8
_SYNONYM_TEXTS = list(SYNONYM_INDEX)
_UNMATCHED = "no field has a name like it or values like its"


@dataclass(frozen=True)
class ColumnProposal:
    column: str
    field: str | None
    confidence: float
    reason: str
    unit: str | None = None

    def as_json(self) -> dict:
        shown = {
            "column": self.column,
            "field": self.field,
            "confidence": self.confidence,
            "reason": self.reason,
        }
        return shown | ({"unit": self.unit} if self.unit else {})


@dataclass(frozen=True)
class Suggestion:
    profile: str | None
    spec: FlowSpec
    columns: tuple[ColumnProposal, ...]
    warnings: tuple[str, ...]

    @property
    def unmapped(self) -> list[str]:
        return [proposal.column for proposal in self.columns if proposal.field is None]

    def as_json(self) -> dict:
        return {
            "profile": self.profile,
            "spec": self.spec.as_json(),
            "columns": [proposal.as_json() for proposal in self.columns],
            "unmapped": self.unmapped,
            "warnings": list(self.warnings),
        }


def suggest_flow(
    columns: Iterable[str],
    sample_rows: Iterable[Mapping[str, str]],
    sheet: str | None = None,
    sheet_names: Iterable[str] = (),
    records_path: str | None = None,
) -> Suggestion:
    """The proposed spec for a file with these header columns and these first rows.

    `sheet` is the worksheet the header was read from, `sheet_names` the workbook's sheets,
    `records_path` the path of a wrapping JSON document's records: they go into the spec
    as they are, since they say how the file was read.
    """
    header = list(dict.fromkeys(c for c in columns if c and c.strip()))
    cells = _column_cells(header, sample_rows)
    warnings: list[str] = []
    profile = recognise(header, [*([sheet] if sheet else []), *sheet_names])
    if profile is not None:
        base = resolve_profile(profile, header, sheet, records_path)
        declared = [
            ColumnProposal(
                column,
                target,
                1.0,
                f"profile {profile.name}: {target}" + _unit_note(base.units.get(column)),
                base.units.get(column),
            )
            for column, target in base.mappings.items()
        ]
        open_fields = set(INVENTORY_FIELDS) - set(base.mappings.values()) - set(profile.constants)
        extra = [
            _propose(
                c, cells[c], open_fields, False, warnings, f"not used by the profile {profile.name}"
            )
            for c in header
            if c not in base.mappings
        ]
        mapped = declared + [p for p in extra if p.field]
        constants, key = dict(profile.constants), base.identity_key
    else:
        extra = [_propose(c, cells[c], None, True, warnings, _UNMATCHED) for c in header]
        mapped = _by_field([p for p in extra if p.field], header)
        mapped = _name_fallback(mapped, warnings)
        constants, key = {}, ()
    warnings += _competitions(mapped, declared={} if profile is None else base.mappings)
    covered = {p.field for p in mapped} | set(constants)
    defaults = critical_defaults(covered)
    warnings += [
        f"critical field {target} set to the default {value!r}: no column of the file gives "
        f"it (give the real value with --set {target}=VALUE or in the spec)"
        for target, value in defaults.items()
    ]
    if "name" not in covered:
        warnings.append(
            "critical field name: no column of the file names the assets; map one by hand "
            "(a flow without it is refused)"
        )
    spec = FlowSpec(
        {p.column: p.field for p in mapped},
        {p.column: p.unit for p in mapped if p.field in SIZED_FIELDS and p.unit},
        constants | defaults,
        key,
        sheet,
        records_path,
        profile.name if profile else None,
        profile.field_precedence if profile else {},
    )
    by_column = {p.column: p for p in extra} | {p.column: p for p in mapped}
    shown = tuple(by_column[column] for column in header)
    return Suggestion(profile.name if profile else None, spec, shown, tuple(warnings))


def _column_cells(header: list[str], rows: Iterable[Mapping[str, str]]) -> dict[str, list[str]]:
    """Each column's first non-empty sample cells, trimmed."""
    cells: dict[str, list[str]] = {column: [] for column in header}
    for row in rows:
        for column in header:
            value = (row.get(column) or "").strip()
            if value and len(cells[column]) < SAMPLE_CELLS:
                cells[column].append(value)
    return cells


def _propose(
    column: str,
    cells: list[str],
    allowed: set[str] | None,
    by_values: bool,
    warnings: list[str],
    unmatched: str,
) -> ColumnProposal:
    """One column's field, by its name, else (when `by_values`) by its values."""
    named = match_name(column)
    if named and (allowed is None or named[0] in allowed):
        target, confidence, reason = named
        detector = next((d for d in DETECTORS if d.field == target), None)
        if detector and cells and _share(detector.test, cells) >= VALUE_SHARE:
            confidence, reason = max(confidence, 0.98), f"{reason}; its values agree"
        return _with_unit(ColumnProposal(column, target, confidence, reason), cells, warnings)
    if by_values:
        found = match_values(cells)
        if found:
            target, confidence, reason, unit = found
            if unit is None:
                return _with_unit(
                    ColumnProposal(column, target, confidence, reason), cells, warnings
                )
            warnings.append(
                f"column {column!r} holds sizes with units ({cells[0]!r}): taken for "
                f"{target} by their magnitude; check it is not "
                f"{'storage_gb' if target == 'memory_gb' else 'memory_gb'}"
            )
            if sizes_with_units(cells)[2]:
                warnings.append(
                    f"column {column!r} mixes units: {unit}, the most common, is the spec's"
                )
            return ColumnProposal(column, target, confidence, reason, unit)
    if named:
        return ColumnProposal(
            column, None, 0.0, f"{named[2]}, but the profile already gives {named[0]}"
        )
    return ColumnProposal(column, None, 0.0, unmatched)


def match_name(column: str) -> tuple[str, float, str] | None:
    """(field, confidence, reason) for a header that names a field, or None."""
    header = read_header(column)
    text = header.text
    if text in SYNONYM_INDEX:
        return SYNONYM_INDEX[text], 0.95, f"its name is a synonym of {SYNONYM_INDEX[text]}"
    if header.percent or NOT_AN_ATTRIBUTE & set(header.words):
        return None
    core = " ".join(word for word in header.words if word not in QUALIFIERS)
    if core and core != text and core in SYNONYM_INDEX:
        target = SYNONYM_INDEX[core]
        return target, 0.85, f"its name is {core!r}, a synonym of {target}, qualified"
    if len(text) < 5:
        return None
    close = process.extractOne(
        text, _SYNONYM_TEXTS, scorer=fuzz.token_sort_ratio, score_cutoff=FUZZY_CUTOFF
    )
    if close is None:
        return None
    synonym, score, _ = close
    target = SYNONYM_INDEX[synonym]
    return (
        target,
        round(0.9 * score / 100, 2),
        f"its name is close to {synonym!r}, a synonym of {target} ({score:.0f}%)",
    )


def match_values(cells: list[str]) -> tuple[str, float, str, str | None] | None:
    """(field, confidence, reason, unit) for a column whose sample cells show what it
    holds, or None."""
    if not cells:
        return None
    weight = min(1.0, len(cells) / 5)
    sizes = sizes_with_units(cells)
    if sizes:
        unit, median_gib, mixed = sizes
        target = "memory_gb" if median_gib <= MEMORY_CEILING_GIB else "storage_gb"
        reason = (
            f"its values are sizes with {'mostly ' if mixed else ''}a unit ({unit}, median "
            f"{median_gib:g} GiB), taken for {target} by their magnitude"
        )
        return target, round(0.4 + 0.3 * weight, 2), reason, unit
    for detector in DETECTORS:
        share = _share(detector.test, cells)
        if share >= VALUE_SHARE:
            hits = round(share * len(cells))
            reason = f"{hits} of {len(cells)} sample values look like {detector.looks_like}"
            return detector.field, round(0.5 + 0.4 * share * weight, 2), reason, None
    return None


def _share(test, cells: list[str]) -> float:
    return sum(1 for cell in cells if test(cell)) / len(cells)


def _with_unit(proposal: ColumnProposal, cells: list[str], warnings: list[str]):
    """A size column's unit: the header's, else the cells', else guessed (a warning)."""
    if proposal.field not in SIZED_FIELDS:
        return proposal
    unit = read_header(proposal.column).unit
    note = "from the header"
    if unit is None and (sizes := sizes_with_units(cells)):
        unit, note = sizes[0], "from its values"
        if sizes[2]:
            warnings.append(
                f"column {proposal.column!r} mixes units: {unit}, the most common, is the spec's"
            )
    if unit is None:
        unit, note = guess_unit(proposal.field, cells), "guessed"
        warnings.append(
            f"unit of {proposal.column!r} guessed: {unit}, from the magnitude of its values; "
            "correct the unit in the spec if it is not"
        )
    return ColumnProposal(
        proposal.column,
        proposal.field,
        proposal.confidence,
        f"{proposal.reason}; unit {unit} {note}",
        unit,
    )


def _unit_note(unit: str | None) -> str:
    return f" (in {unit})" if unit else ""


def _by_field(mapped: list[ColumnProposal], header: list[str]) -> list[ColumnProposal]:
    """Mapped columns grouped by field (contract order), the most confident first."""
    fields = list(INVENTORY_FIELDS)
    return sorted(
        mapped, key=lambda p: (fields.index(p.field), -p.confidence, header.index(p.column))
    )


def _name_fallback(mapped: list[ColumnProposal], warnings: list[str]) -> list[ColumnProposal]:
    """With no name column, the host name (else the FQDN) column names the assets."""
    if any(p.field == "name" for p in mapped):
        return mapped
    for stand_in in ("hostname", "fqdn"):
        found = next((p for p in mapped if p.field == stand_in), None)
        if found:
            warnings.append(
                f"no name column: {found.column!r} ({stand_in}) names the assets instead"
            )
            named = ColumnProposal(
                found.column,
                "name",
                found.confidence,
                f"{found.reason}; names the assets, as no column is a name",
            )
            return [named, *(p for p in mapped if p is not found)]
    return mapped


def _competitions(mapped: list[ColumnProposal], declared: Mapping[str, str]) -> list[str]:
    """A warning per field that columns compete for, unless a profile declared the order."""
    by_field: dict[str, list[str]] = {}
    for proposal in mapped:
        by_field.setdefault(proposal.field, []).append(proposal.column)
    return [
        f"columns {', '.join(map(repr, columns))} compete for {target}: "
        f"{columns[0]!r} is tried first, the others where it is empty"
        for target, columns in by_field.items()
        if len(columns) > 1 and not all(c in declared for c in columns)
    ]
