"""`bench --sources 2`: a second source of the pipeline partition, and how well it reconciles.

DESIGN 5 asks whether the inventory step finds the machines one source shares with another
(recall) without ever merging two machines (precision), at the size of the first source and
within 1.5× its inventory time. That needs an answer key the matching never sees: the second
source is therefore generated from the first source's machines as the database holds them
(its current source rows and their assets), together with its *truth* (for each record, the
first-source identity key it truly is, or none), in one set-based statement. The truth is a
table of the run's database, not a structure of this process, so a million records cost
this process no memory; the CSV is copied out of that table block by block.

The records are RVTools-like (VM, DNS name, IP, serial, memory in MiB; the profile sets the
asset type and environment) and come in kinds, each one a way real sources disagree:

* the first source's machines under other names: its FQDN as the VM name where the first
  has a short name (`fqdn_name`), a short DNS name where the first has an FQDN
  (`short_dns`), every identifier in the other case and the serial with a separator
  (`case`), or only the serial with an unrelated name (`serial_only`);
* machines it lacks that look like one of its own: a `clone` (the serial of one of its
  machines, another host name) and a `reused_ip` (the IP of one of its machines, another
  host name): merging either is a false merge;
* plain `new` machines.

Every machine of the bench's first source has a host name (an FQDN), an IP and a serial
(`samples/cmdb_generator.py` never blanks them), which each kind takes for granted.

Precision and recall are then read from what the pipeline left (each second-source record's
asset, and whether the first source describes it) against the truth: nothing the code wrote
about its own choices is trusted.
"""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from psycopg import sql
from sqlalchemy import Connection, text

from wiring_pipeline.domain.core.tenancy import TenantScope, tenant_filter
from wiring_pipeline.domain.ingest.profiles.declarations import RVTOOLS_VINFO
from wiring_pipeline.domain.ingest.profiles.model import resolve_profile

FLOW_NAME = "bench-rvtools"
SEED = 6_000_003
#: The export's columns, as RVTools' vInfo tab names them, plus a serial number column.
COLUMNS = ("VM", "DNS Name", "Primary IP Address", "Serial Number", "Memory")

#: Share of the N records that are machines of the first source (DESIGN 5: 80 %).
SHARED = 0.8
#: How the shared records name their machine, by weight.
SHARED_KINDS = {"fqdn_name": 3, "short_dns": 3, "case": 3, "serial_only": 1}
#: Shares of the N records that look like a first-source machine and are another one.
LOOKALIKES = {"clone": 0.005, "reused_ip": 0.01}
NEW = "new"
KINDS = (*SHARED_KINDS, *LOOKALIKES, NEW)

#: The second source's records and their truth, one row each, in the run's database: the
#: table outlives the units of work of the stages it is measured after, and `--keep` keeps
#: it beside the partition for whoever investigates a miss.
SCHEMA = "bench_second_source"
TABLE = "records"
TRUTH = f"{SCHEMA}.{TABLE}"


def flow_spec() -> dict:
    """The RVTools vInfo profile's spec for `COLUMNS` (memory in MiB, the VM constants, the
    key `VM`, the per-field precedence of a hypervisor export), plus the serial number:
    vInfo lacks one, and DESIGN 5's records matched "only by serial" need it."""
    spec = resolve_profile(RVTOOLS_VINFO, COLUMNS)
    return replace(spec, mappings={**spec.mappings, "Serial Number": "serial_number"}).as_json()


def mix(records: int, machines: int) -> dict[str, int]:
    """How many records of each kind a second source of `records` makes from `machines`
    first-source machines: exact counts, so that a test can hold the generated file to them.

    The shared kinds split the shared records by largest remainder; a first source with
    fewer machines than the share asks for shares all it has.
    """
    shared = min(round(records * SHARED), machines)
    weight = sum(SHARED_KINDS.values())
    quotas = {kind: shared * w / weight for kind, w in SHARED_KINDS.items()}
    counts = {kind: math.floor(quota) for kind, quota in quotas.items()}
    by_remainder = sorted(quotas, key=lambda kind: counts[kind] - quotas[kind])
    for kind in by_remainder[: shared - sum(counts.values())]:
        counts[kind] += 1
    for kind, share in LOOKALIKES.items():
        counts[kind] = min(round(records * share), machines)
    counts[NEW] = records - sum(counts.values())
    return counts


_MACHINES_SQL = f"""
SELECT count(*) FROM migration.asset_sources s
WHERE {tenant_filter("s")} AND s.discovery_flow_id = :first_flow_row_id
  AND s.current_phase = 'current'
"""

_CREATE_SQL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""
    CREATE TABLE IF NOT EXISTS {TRUTH} (
        client_account_id uuid NOT NULL,
        engagement_id uuid NOT NULL,
        row_number integer NOT NULL,
        kind text NOT NULL,
        truth_key text,
        vm text NOT NULL,
        dns_name text,
        ip_address text,
        serial_number text,
        memory_mib integer,
        PRIMARY KEY (client_account_id, engagement_id, row_number)
    )
    """,
)


def _fresh_ip(counter: str) -> str:
    """SQL: a distinct address of 100.64.0.0/10 per counter value, a range the first source
    (10.0.0.0/8) never uses, so a fresh IP can only agree with another fresh one."""
    return (
        f"concat_ws('.', 100, 64 + (({counter}) >> 16) % 64, (({counter}) >> 8) % 256,"
        f" ({counter}) % 256)"
    )


#: Per shared kind, its record's VM, DNS name, IP and serial, from its machine `m`.
_SHARED_COLUMNS = {
    "fqdn_name": ("m.host", "NULL", "m.ip_address", "NULL"),
    "short_dns": ("m.short", "m.short", "m.ip_address", "NULL"),
    "case": (
        "CASE WHEN m.name = lower(m.name) THEN upper(m.name) ELSE lower(m.name) END",
        "upper(m.host)",
        "m.ip_address",
        r"lower(regexp_replace(m.serial_number, '^(..)', '\1-'))",
    ),
    "serial_only": (
        "'p2v-' || lpad(m.shared_place::text, 7, '0')",
        "NULL",
        "NULL",
        "m.serial_number",
    ),
}


def _shared(kind: str) -> str:
    """SQL: the records of one shared kind, from the run of shared places it is given."""
    columns = ", ".join(_SHARED_COLUMNS[kind])
    return (
        f"SELECT '{kind}', m.identity_key, {columns}, m.memory_mib FROM machines m"
        f" WHERE m.shared_place > :{kind}_after AND m.shared_place <= :{kind}_after + :{kind}"
    )


# A record's `row_number` is the one the loader gives it, its CSV line (the header is line 1),
# so the truth joins the raw records on it.
# Each machine has three independent places (a deterministic shuffle each): the first
# `shared` places are the shared records, the first `clone` (`reused_ip`) places lend their
# serial (IP) to a lookalike. So a lookalike's machine is usually in the second source too,
# as in life, and the matching must tell the two apart.
_GENERATE_SQL = f"""
WITH machines AS MATERIALIZED (
    SELECT m.*, split_part(m.host, '.', 1) AS short,
           substr(m.host, length(split_part(m.host, '.', 1)) + 1) AS domain,
           row_number() OVER (ORDER BY hashtextextended(m.identity_key, :seed), m.identity_key)
               AS shared_place,
           row_number() OVER (ORDER BY hashtextextended(m.identity_key, :seed + 1),
                                       m.identity_key) AS clone_place,
           row_number() OVER (ORDER BY hashtextextended(m.identity_key, :seed + 2),
                                       m.identity_key) AS reused_ip_place
    FROM (SELECT s.identity_key, a.name, lower(a.hostname) AS host, a.ip_address,
                 a.serial_number, (a.memory_gb * 1024)::integer AS memory_mib
          FROM migration.asset_sources s
          JOIN migration.assets a ON {tenant_filter("a")} AND a.id = s.asset_id
          WHERE {tenant_filter("s")} AND s.discovery_flow_id = :first_flow_row_id
            AND s.current_phase = 'current') AS m
),
generated (kind, truth_key, vm, dns_name, ip_address, serial_number, memory_mib) AS (
    {" UNION ALL ".join(_shared(kind) for kind in SHARED_KINDS)}
    UNION ALL
    SELECT 'clone', NULL, m.short || '-clone', m.short || '-clone' || m.domain,
           {_fresh_ip(":new + m.clone_place")}, m.serial_number, m.memory_mib
    FROM machines m WHERE m.clone_place <= :clone
    UNION ALL
    SELECT 'reused_ip', NULL, 'reused-' || lpad(m.reused_ip_place::text, 7, '0'),
           'reused-' || lpad(m.reused_ip_place::text, 7, '0') || m.domain, m.ip_address,
           'VMR-' || lpad(m.reused_ip_place::text, 9, '0'), m.memory_mib
    FROM machines m WHERE m.reused_ip_place <= :reused_ip
    UNION ALL
    SELECT 'new', NULL, 'esx-' || lpad(n::text, 7, '0'),
           'esx-' || lpad(n::text, 7, '0') || '.vm.example', {_fresh_ip("n")},
           'VMN-' || lpad(n::text, 9, '0'), 4096 * (1 + n % 8)
    FROM generate_series(1, :new) AS n
)
INSERT INTO {TRUTH}
    (client_account_id, engagement_id, row_number, kind, truth_key, vm, dns_name,
     ip_address, serial_number, memory_mib)
SELECT :client_account_id, :engagement_id,
       1 + row_number() OVER (ORDER BY hashtextextended(g.vm, :seed), g.vm), g.*
FROM generated g
"""

_COPY_OUT = sql.SQL(
    "COPY (SELECT vm AS {}, dns_name AS {}, ip_address AS {}, serial_number AS {},"
    " memory_mib AS {} FROM {}"
    " WHERE client_account_id = %(client_account_id)s AND engagement_id = %(engagement_id)s"
    " ORDER BY row_number) TO STDOUT (FORMAT csv, HEADER true)"
).format(*map(sql.Identifier, COLUMNS), sql.Identifier(SCHEMA, TABLE))


def generate(
    conn: Connection,
    scope: TenantScope,
    first_flow_row_id: uuid.UUID,
    records: int,
    path: Path,
    seed: int = SEED,
) -> dict[str, int]:
    """The second source of `records` rows as a CSV at `path`, and its truth in `TRUTH`;
    returns the records per kind (`mix`)."""
    params = {**scope.as_params(), "first_flow_row_id": first_flow_row_id}
    machines = conn.execute(text(_MACHINES_SQL), params).scalar_one()
    counts = mix(records, machines)
    # The shared kinds take consecutive runs of the shared places, in declared order.
    starts = itertools.accumulate((counts[kind] for kind in SHARED_KINDS), initial=0)
    for statement in _CREATE_SQL:
        conn.execute(text(statement))
    conn.execute(
        text(_GENERATE_SQL),
        {
            **params,
            **counts,
            **{f"{kind}_after": start for kind, start in zip(SHARED_KINDS, starts)},
            "seed": seed,
        },
    )
    with (
        conn.connection.driver_connection.cursor() as cursor,
        cursor.copy(_COPY_OUT, scope.as_params()) as copy,
        path.open("wb") as handle,
    ):
        for block in copy:
            handle.write(block)
    return counts


@dataclass(frozen=True)
class KindScore:
    """What became of the records of one kind."""

    records: int = 0
    #: Records the truth says are a first-source machine.
    shared: int = 0
    #: Records whose asset the first source also describes.
    matched: int = 0
    #: Matched to the very machine the truth names.
    correct: int = 0
    #: Match candidates left for review beside the record's own asset.
    candidates: int = 0
    #: The record's source row's `matched_on` (`new`: it made its own asset).
    matched_on: dict[str, int] = field(default_factory=dict)

    def add(self, row) -> KindScore:
        rule = row.matched_on or "no source row"
        return KindScore(
            self.records + row.records,
            self.shared + row.shared,
            self.matched + row.matched,
            self.correct + row.correct,
            self.candidates + row.candidates,
            {**self.matched_on, rule: self.matched_on.get(rule, 0) + row.records},
        )

    def as_json(self) -> dict:
        return {
            "records": self.records,
            "shared": self.shared,
            "matched": self.matched,
            "correct": self.correct,
            "candidates": self.candidates,
            "matched_on": dict(sorted(self.matched_on.items())),
        }


@dataclass(frozen=True)
class Matching:
    """The matching of the second source against the truth, per kind and in all."""

    kinds: dict[str, KindScore]

    def _sum(self, name: str) -> int:
        return sum(getattr(score, name) for score in self.kinds.values())

    @property
    def matched(self) -> int:
        return self._sum("matched")

    @property
    def correct(self) -> int:
        return self._sum("correct")

    @property
    def shared(self) -> int:
        return self._sum("shared")

    @property
    def candidates(self) -> int:
        return self._sum("candidates")

    @property
    def precision(self) -> float | None:
        """Correct matches over all matches; none without a match."""
        return self.correct / self.matched if self.matched else None

    @property
    def recall(self) -> float | None:
        """Correct matches over the records that truly are a first-source machine."""
        return self.correct / self.shared if self.shared else None

    def as_json(self) -> dict:
        return {
            "records": self._sum("records"),
            "truly_shared": self.shared,
            "matched": self.matched,
            "correct": self.correct,
            "false_merges": self.matched - self.correct,
            "missed": self.shared - self.correct,
            "precision": self.precision,
            "recall": self.recall,
            "candidates": self.candidates,
            "kinds": {kind: score.as_json() for kind, score in self.kinds.items()},
        }


_SCORE_SQL = f"""
WITH candidates AS (
    SELECT m.raw_import_record_id, count(*) AS candidates
    FROM migration.match_candidates m
    WHERE {tenant_filter("m")} AND m.raw_import_record_id IS NOT NULL
    GROUP BY m.raw_import_record_id
)
SELECT t.kind, o.matched_on, count(*) AS records, count(t.truth_key) AS shared,
       count(f.identity_key) AS matched,
       count(*) FILTER (WHERE f.identity_key = t.truth_key) AS correct,
       coalesce(sum(c.candidates), 0)::bigint AS candidates
FROM {TRUTH} t
LEFT JOIN migration.raw_import_records r
  ON {tenant_filter("r")} AND r.data_import_id = :data_import_id AND r.row_number = t.row_number
LEFT JOIN migration.asset_sources o
  ON {tenant_filter("o")} AND o.raw_import_record_id = r.id
LEFT JOIN migration.asset_sources f
  ON {tenant_filter("f")} AND f.asset_id = r.asset_id
 AND f.discovery_flow_id = :first_flow_row_id AND f.current_phase = 'current'
LEFT JOIN candidates c ON c.raw_import_record_id = r.id
WHERE {tenant_filter("t")}
GROUP BY t.kind, o.matched_on
"""


def score(
    conn: Connection, scope: TenantScope, first_flow_row_id: uuid.UUID, data_import_id: uuid.UUID
) -> Matching:
    """Each second-source record's fate, read from the pipeline's tables, against the truth.

    A record is matched when its asset has a current source row of the first flow, and
    correctly so when that row's identity key is the truth's. A record the pipeline left
    without an asset (a rejection) counts as unmatched, so it lowers the recall.
    """
    kinds = dict.fromkeys(KINDS, KindScore())
    rows = conn.execute(
        text(_SCORE_SQL),
        {
            **scope.as_params(),
            "first_flow_row_id": first_flow_row_id,
            "data_import_id": data_import_id,
        },
    )
    for row in rows:
        kinds[row.kind] = kinds[row.kind].add(row)
    return Matching(kinds)
