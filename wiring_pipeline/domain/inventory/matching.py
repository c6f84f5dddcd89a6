"""The identifiers that say two sources describe one machine, declared once (DESIGN 3e).

Each identifier is an inventory field (with fallbacks), a normalisation and two flags:
`vetoes` (two different values mean two machines, whatever else agrees: cloned VMs share a
serial but not a host name, the same short name in two domains differs in its FQDN) and
`unique_only` (the value counts only where one machine has it on each side: IPs are reused).
The list is in order of strength; a match names the strongest identifier it agreed on.
Everything the inventory step matches on is derived from `IDENTIFIERS`: the `match_*`
columns of `asset_sources`, their normalisation from a record's cleansed values, the
pairs, the vetoes and the verdict (`reconcile.py`), and the comparison of conflicting values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Normalisation = Literal["code", "lower", "fqdn", "short", "exact"]

#: Values tools write where they know nothing, after the `code` normalisation.
PLACEHOLDER_CODES = (
    "",
    "NONE",
    "NULL",
    "NA",
    "UNKNOWN",
    "0",
    "TOBEFILLEDBYOEM",
    "DEFAULTSTRING",
    "SYSTEMSERIALNUMBER",
    "NOTSPECIFIED",
    "NOTAVAILABLE",
    "CHASSISSERIALNUMBER",
    "00000000000000000000000000000000",
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
)
#: Host names that name no machine.
PLACEHOLDER_NAMES = ("", "localhost", "unknown", "none", "null", "n/a")


@dataclass(frozen=True)
class Identifier:
    """One rule of the matching: the fields it reads (first non-empty wins) and how."""

    name: str
    fields: tuple[str, ...]
    normalisation: Normalisation
    vetoes: bool
    unique_only: bool = False

    @property
    def column(self) -> str:
        return f"match_{self.name}"

    def normalised(self, values: str) -> str:
        """SQL: this identifier of a record whose cleansed values (jsonb) are `values`."""
        raw = (
            "coalesce("
            + ", ".join(f"NULLIF(btrim({values} ->> '{f}'), '')" for f in self.fields)
            + ")"
        )
        return normalise(raw, self.normalisation)


def normalise(value: str, how: Normalisation) -> str:
    """SQL: the text expression `value` normalised as `how`; NULL for a placeholder."""
    if how == "code":
        code = f"upper(regexp_replace({value}, '[^A-Za-z0-9]', '', 'g'))"
        placeholders = ", ".join(f"'{p}'" for p in PLACEHOLDER_CODES)
        return f"(CASE WHEN {code} IN ({placeholders}) THEN NULL ELSE {code} END)"
    if how == "lower":
        return f"NULLIF(lower(btrim({value})), '')"
    if how == "fqdn":
        lowered = f"lower(btrim({value}))"
        return f"(CASE WHEN {lowered} LIKE '%_._%' AND {lowered} !~ '^[0-9.]+$' THEN {lowered} END)"
    if how == "short":
        short = f"split_part(lower(btrim({value})), '.', 1)"
        names = ", ".join(f"'{p}'" for p in PLACEHOLDER_NAMES)
        return (
            f"(CASE WHEN btrim({value}) ~ '^[0-9.]+$' OR {short} IN ({names}) "
            f"THEN NULL ELSE {short} END)"
        )
    return f"NULLIF(btrim({value}), '')"


#: Strongest first. A short host name matches an FQDN through `hostname` (its first label);
#: two FQDNs that differ veto, so `web01.a.com` never joins `web01.b.com`.
IDENTIFIERS: tuple[Identifier, ...] = (
    Identifier("serial_number", ("serial_number",), "code", vetoes=True),
    Identifier("bios_uuid", ("bios_uuid",), "code", vetoes=True),
    Identifier("cloud_instance_id", ("cloud_instance_id",), "lower", vetoes=True),
    Identifier("fqdn", ("fqdn", "hostname"), "fqdn", vetoes=True),
    Identifier("hostname", ("hostname", "fqdn"), "short", vetoes=True),
    Identifier("ip_address", ("ip_address",), "exact", vetoes=False, unique_only=True),
    Identifier("name", ("name",), "short", vetoes=False),
)
IDENTIFIERS_BY_NAME = {identifier.name: identifier for identifier in IDENTIFIERS}
#: `matched_on` of a source row that created its asset.
NEW_ASSET = "new"
#: `matched_on` of a source row that an `inventory merge` joined.
MERGED = "merge"


#: The identifier each field is compared as (the first field it reads).
_COMPARED_AS = {identifier.fields[0]: identifier for identifier in IDENTIFIERS}


def comparable_value(field: str, value: str) -> str:
    """SQL: a jsonb `value` of the inventory field `field` (a name known here), as two
    sources' values are compared for a conflict.

    Identifier fields compare as they match (`D-CUSTOM-01` and `d-custom-01.usfq.edu.ec`
    are one host name); numbers by value (12 and 12.0 agree); other text trimmed, any case.
    """
    identifier = _COMPARED_AS.get(field)
    if identifier:
        return normalise(f"({value} #>> '{{}}')", identifier.normalisation)
    return _comparable_other(value)


def _comparable_other(value: str) -> str:
    """SQL: a jsonb `value` of a field that is no identifier: numbers by value, text trimmed
    in any case."""
    text_value = f"({value} #>> '{{}}')"
    return (
        f"(CASE WHEN jsonb_typeof({value}) = 'number' "
        f"THEN trim_scale(({text_value})::numeric)::text ELSE lower(btrim({text_value})) END)"
    )
