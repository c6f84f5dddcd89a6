"""What a backfill may do, derived from the wiring contract, and its running tally.

Each link of `domain/contract/` brings its repairs under its own name:
`clear_orphan_<link>` for every link, `relink_<link>` for a link with a legacy key,
`complete_<link>` for a link whose reverse names the row. Whatever would need a guess is
counted as unrepairable instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wiring_pipeline.domain.contract.links import (
    ASSET_REF,
    FLOW_REF,
    LINKS,
    RAW_IMPORT_REF,
    SUPERSEDED_BY,
    Link,
)
from wiring_pipeline.domain.core.errors import UserInputError

SAMPLE_LIMIT = 5

Table = Literal["raw_import_records", "assets"]
#: Order of the passes; the plans are order-independent, this only makes progress readable.
BATCH_TABLES: tuple[Table, ...] = ("raw_import_records", "assets")

#: Singular names of the rows of each table, for the descriptions.
_ROW = {"assets": "asset", "raw_import_records": "raw record", "discovery_flows": "flow"}
#: A raw record whose asset is cleared is re-derivable from its source row: it is put back
#: in the queue (unless a re-import superseded it: history is never re-inventoried).
_AFTER_CLEAR = {
    ASSET_REF.name: ", and requeued unless an asset of the partition claims it or it is superseded"
}


def _describe_clear(link: Link) -> str:
    row = _ROW[link.table.name]
    return (
        f"{row}s whose {link.column} names no {_ROW[link.target.name]} of the partition: "
        f"cleared{_AFTER_CLEAR.get(link.name, '')}"
    )


def _describe_relink(link: Link) -> str:
    return (
        f"{_ROW[link.table.name]}s linked to the {_ROW[link.target.name]} of the partition "
        f"with their legacy {link.legacy_column}"
    )


def _describe_complete(link: Link) -> str:
    processed = ", and marked processed" if link.table.name == "raw_import_records" else ""
    return (
        f"{_ROW[link.table.name]}s given the {_ROW[link.target.name]} that alone names them"
        f"{processed}"
    )


#: The links a backfill repairs: those of the tables it walks in batches. A source row
#: (DESIGN 3e) is written only by the inventory step, in the transaction that writes what
#: it names, so it has no legacy to repair; its orphan metric and foreign key still hold it.
REPAIRED_LINKS = tuple(link for link in LINKS if link.table.name in BATCH_TABLES)
REPAIRS: dict[str, str] = {
    **{link.clear_repair: _describe_clear(link) for link in REPAIRED_LINKS},
    **{link.relink_repair: _describe_relink(link) for link in REPAIRED_LINKS if link.legacy_column},
    **{link.complete_repair: _describe_complete(link) for link in REPAIRED_LINKS if link.reverse},
}
# The SQL of `backfill/sql.py` plans exactly these; a link added to the contract needs its
# plan there too, and this says so at import rather than with a KeyError mid-run.
assert set(REPAIRS) == {
    FLOW_REF.clear_repair,
    RAW_IMPORT_REF.clear_repair,
    ASSET_REF.clear_repair,
    SUPERSEDED_BY.clear_repair,
    FLOW_REF.relink_repair,
    RAW_IMPORT_REF.complete_repair,
    ASSET_REF.complete_repair,
}, "a link of the contract has no backfill plan in domain/backfill/sql.py"

UNREPAIRABLE: dict[str, str] = {
    "unmatched_legacy_flow_id": (
        "assets without a flow whose legacy flow_id no flow of this tenant and engagement has"
    ),
    "flow_based_without_flow_ref": (
        "flow-based assets with neither a discovery_flow_id nor a flow_id"
    ),
    "link_conflicts": (
        "links that stay one-way because the other side names a different existing row "
        "(counted on each side, as asymmetric_links is)"
    ),
}

#: The columns a repair may change, with their SQL types: what the audit stores and undo restores.
AUDITED_COLUMNS: dict[Table, dict[str, str]] = {
    "assets": {
        "discovery_flow_id": "uuid",
        "master_flow_id": "uuid",
        "raw_import_records_id": "uuid",
        "updated_at": "timestamptz",
    },
    "raw_import_records": {
        "asset_id": "uuid",
        "is_processed": "boolean",
        "processed_at": "timestamptz",
        "processing_notes": "text",
        "cleansed_data": "jsonb",
        "superseded_by": "uuid",
    },
}

REQUEUE_NOTE = "Requeued by backfill: its asset does not exist in this tenant and engagement"


@dataclass
class Tally:
    """What a run did (or would do) so far: counts and samples per repair and problem."""

    repairs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REPAIRS, 0))
    unrepairable: dict[str, int] = field(default_factory=lambda: dict.fromkeys(UNREPAIRABLE, 0))
    samples: dict[str, list[dict]] = field(default_factory=dict)
    batches: int = 0

    def add(self, other: Tally) -> Tally:
        """The sum of two tallies, keeping the first SAMPLE_LIMIT samples of each label."""
        total = Tally(batches=self.batches + other.batches)
        for name in REPAIRS:
            total.repairs[name] = self.repairs[name] + other.repairs[name]
        for name in UNREPAIRABLE:
            total.unrepairable[name] = self.unrepairable[name] + other.unrepairable[name]
        for label in {*self.samples, *other.samples}:
            merged = self.samples.get(label, []) + other.samples.get(label, [])
            total.samples[label] = merged[:SAMPLE_LIMIT]
        return total

    def counts_json(self) -> dict:
        return {
            "repairs": dict(self.repairs),
            "unrepairable": dict(self.unrepairable),
            "batches": self.batches,
        }

    @classmethod
    def from_counts_json(cls, counts: dict) -> Tally:
        tally = cls(batches=int(counts.get("batches", 0)))
        tally.repairs.update(counts.get("repairs", {}))
        tally.unrepairable.update(counts.get("unrepairable", {}))
        return tally

    @property
    def changed_rows(self) -> int:
        return sum(self.repairs.values())

    @classmethod
    def from_rows(cls, rows) -> Tally:
        """One batch's tally from the (kind, label, n, id, name, changes) rows of its SQL."""
        tally = cls(batches=1)
        for row in rows:
            counts = tally.repairs if row.kind == "repair" else tally.unrepairable
            counts[row.label] = int(row.n)
            sample = {"id": str(row.id), "name": row.name}
            if row.changes is not None:
                sample["changes"] = row.changes
            tally.samples.setdefault(row.label, []).append(sample)
        return tally


class BackfillError(UserInputError):
    """A backfill request that cannot be carried out as asked (unknown run, undo conflict)."""
