"""A CSV file of rows given as dicts, the header taken from the first row."""

from __future__ import annotations

import csv
from pathlib import Path


def write_csv_rows(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
