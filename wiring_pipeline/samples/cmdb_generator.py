"""Deterministic CMDB-style export rows, messy the way real exports are.

Used by the demo and by the benchmark. Rows are yielded one at a time so a million of
them never sit in memory together.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

#: The export's columns, as a CMDB tool names them.
CMDB_COLUMNS: list[str] = [
    "Asset Name",
    "CI Class",
    "Environment",
    "Hostname",
    "IP Address",
    "OS",
    "OS Version",
    "CPU Cores",
    "Memory (GB)",
    "Storage (GB)",
    "Owner",
    "Location",
    "Business Unit",
    "Application",
    "Criticality",
    "Serial Number",
    "Manufacturer",
    "Model",
    "Description",
    "Support Group",
    "Last Scan",
]

#: How a flow maps the export onto inventory fields; the last two columns stay unmapped
#: and end up in the asset's custom attributes.
CMDB_FIELD_MAPPINGS: dict[str, str] = {
    "Asset Name": "name",
    "CI Class": "asset_type",
    "Environment": "environment",
    "Hostname": "hostname",
    "IP Address": "ip_address",
    "OS": "operating_system",
    "OS Version": "os_version",
    "CPU Cores": "cpu_cores",
    "Memory (GB)": "memory_gb",
    "Storage (GB)": "storage_gb",
    "Owner": "owner",
    "Location": "location",
    "Business Unit": "business_unit",
    "Application": "application_name",
    "Criticality": "criticality",
    "Serial Number": "serial_number",
    "Manufacturer": "manufacturer",
    "Model": "model",
    "Description": "description",
}

_KINDS = {
    "Server": ("srv", ["Windows Server", "Red Hat Enterprise Linux", "Ubuntu"], ["Dell", "HPE"]),
    "Virtual Machine": ("vm", ["Windows Server", "Ubuntu", "SUSE Linux"], ["VMware"]),
    "Database": ("db", ["Red Hat Enterprise Linux", "Windows Server"], ["Oracle", "Microsoft"]),
    "Application": ("app", ["Ubuntu", "Windows Server"], ["In-house"]),
    "Network Device": ("net", ["Cisco IOS", "Junos"], ["Cisco", "Juniper"]),
}
_OS_VERSIONS = {
    "Windows Server": ["2016", "2019", "2022"],
    "Red Hat Enterprise Linux": ["7.9", "8.8", "9.2"],
    "Ubuntu": ["18.04", "20.04", "22.04"],
    "SUSE Linux": ["12 SP5", "15 SP4"],
    "Cisco IOS": ["15.2", "17.3"],
    "Junos": ["20.4", "21.2"],
}
_ENVIRONMENTS = ["Production", "Staging", "Development", "Test", "DR"]
_LOCATIONS = ["Frankfurt DC1", "London DC2", "Dallas DC3", "Singapore DC4", "Azure westeurope"]
_UNITS = ["Finance", "Retail", "Logistics", "HR", "Shared Services"]
_APPS = ["SAP ERP", "Billing", "Data Warehouse", "Web Shop", "Payroll", "CRM", "Intranet"]
_OWNERS = ["j.smith", "a.khan", "m.garcia", "l.chen", "r.okafor", "s.novak"]
_CRITICALITY = ["High", "Medium", "Low", "Critical"]
_GROUPS = ["Wintel Ops", "Linux Ops", "DBA Team", "Network Ops", "App Support"]


def _messy_case(rng: random.Random, value: str) -> str:
    roll = rng.random()
    if roll < 0.1:
        return value.upper()
    if roll < 0.2:
        return value.lower()
    return value


def _stray_whitespace(rng: random.Random, value: str) -> str:
    roll = rng.random()
    if roll < 0.08:
        return f"  {value} "
    if roll < 0.12:
        return value.replace(" ", "   ", 1)
    return value


def iter_cmdb_rows(seed: int, count: int, prefix: str = "") -> Iterator[dict[str, str]]:
    """Yield `count` export rows; the same seed gives the same rows, byte for byte.

    About 1 row in 80 repeats the one before it, 1 in 60 has a blank critical cell, and
    cells carry stray whitespace and mixed case, as hand-maintained CMDBs do.
    """
    rng = random.Random(seed)
    previous: dict[str, str] | None = None
    kinds = list(_KINDS)
    for index in range(count):
        if previous is not None and rng.random() < 0.0125:
            yield dict(previous)
            continue
        kind = rng.choice(kinds)
        short, systems, makers = _KINDS[kind]
        os_name = rng.choice(systems)
        environment = rng.choice(_ENVIRONMENTS)
        host = f"{prefix}{short}{environment[:3].lower()}{index:07d}"
        memory = rng.choice([4, 8, 16, 32, 64, 128, 256])
        row = {
            "Asset Name": _stray_whitespace(rng, host.upper() if rng.random() < 0.3 else host),
            "CI Class": _messy_case(rng, kind),
            "Environment": _stray_whitespace(rng, _messy_case(rng, environment)),
            "Hostname": f"{host}.corp.example",
            "IP Address": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "OS": os_name,
            "OS Version": rng.choice(_OS_VERSIONS[os_name]),
            "CPU Cores": str(rng.choice([1, 2, 4, 8, 16, 32])),
            "Memory (GB)": f"{memory}" if rng.random() < 0.7 else f"{memory}.0",
            "Storage (GB)": str(rng.choice([50, 100, 250, 500, 1000, 2000])),
            "Owner": rng.choice(_OWNERS),
            "Location": rng.choice(_LOCATIONS),
            "Business Unit": rng.choice(_UNITS),
            "Application": rng.choice(_APPS) if kind != "Network Device" else "",
            "Criticality": _messy_case(rng, rng.choice(_CRITICALITY)),
            "Serial Number": f"SN{rng.randrange(10**9):09d}",
            "Manufacturer": rng.choice(makers),
            "Model": f"M{rng.randrange(100, 999)}",
            "Description": f"{kind} for {rng.choice(_APPS)}",
            "Support Group": rng.choice(_GROUPS),
            "Last Scan": f"2026-{rng.randrange(1, 11):02d}-{rng.randrange(1, 28):02d}",
        }
        if rng.random() < 1 / 60:
            row[rng.choice(["Environment", "CI Class", "Asset Name"])] = rng.choice(["", "   "])
        for column in ("OS Version", "Owner", "Storage (GB)"):
            if rng.random() < 0.05:
                row[column] = ""
        previous = row
        yield row


def write_csv(
    path: Path, rows: Iterable[dict[str, str]], *, delimiter: str = ",", bom: bool = False
) -> int:
    """Write rows as CSV (optionally with a UTF-8 BOM, as Excel does); returns the count."""
    count = 0
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CMDB_COLUMNS, delimiter=delimiter)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_jsonl(path: Path, rows: Iterable[dict[str, str]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_xlsx(path: Path, rows: Iterable[dict[str, str]], sheet_name: str = "CMDB Export") -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name)
    sheet.append(CMDB_COLUMNS)
    count = 0
    for row in rows:
        sheet.append([row[column] for column in CMDB_COLUMNS])
        count += 1
    workbook.save(path)
    return count


def iter_next_export(
    rows: Iterable[dict[str, str]],
    *,
    changed_every: int = 10,
    gone_every: int = 100,
    new_every: int = 100,
) -> Iterator[dict[str, str]]:
    """Next week's export of the same estate: the re-import of DESIGN 3a, deterministic.

    Of `rows`, every `gone_every`-th is decommissioned (left out), every `changed_every`-th
    gets twice the memory and another owner, and after every `new_every`-th a new server
    follows; the rest come again unchanged. The defaults are 1% gone, 10% changed, 1% new.
    """
    for index, row in enumerate(rows):
        if index % gone_every == 0:
            continue
        if index % changed_every == changed_every // 2:
            memory = row["Memory (GB)"].strip()
            row = {
                **row,
                "Memory (GB)": str(2 * int(float(memory))) if memory else "8",
                "Owner": f"{row['Owner'] or 'nobody'}.next",
            }
        yield row
        if index % new_every == new_every // 2 + 1:
            host = f"new{index:07d}"
            yield {**row, "Asset Name": host, "Hostname": f"{host}.corp.example"}
