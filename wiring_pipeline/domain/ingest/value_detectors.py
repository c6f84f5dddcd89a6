"""What a column's values say it holds, when its header says nothing recognisable.

Each detector is data: a field, what its values look like (for the reason shown to the
user), and a test of one cell. The suggestion runs them, in order, over a sample of a
column's non-empty cells; one fires when most cells pass. Sizes with a unit in the cell
(`16 GB`, `8192 MB`) are read apart, because they say their unit too, and a size column
whose header names no unit has its unit guessed from the magnitude of its values.
"""

from __future__ import annotations

import ipaddress
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from wiring_pipeline.domain.ingest.headers import fold

_LIST = re.compile(r"[;,\s]+")


def _each(test: Callable[[str], bool]) -> Callable[[str], bool]:
    """A test of every item of a cell that may list several (`10.0.0.1;fe80::1`)."""

    def check(cell: str) -> bool:
        items = [item for item in _LIST.split(cell.strip()) if item]
        return bool(items) and all(test(item) for item in items)

    return check


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _pattern(regex: str) -> Callable[[str], bool]:
    compiled = re.compile(regex, re.IGNORECASE)
    return lambda cell: compiled.fullmatch(cell.strip()) is not None


def _words(*words: str) -> Callable[[str], bool]:
    folded = frozenset(fold(word) for word in words)
    return lambda cell: fold(cell.strip()) in folded


def _mentions(*words: str) -> Callable[[str], bool]:
    compiled = re.compile(r"\b(" + "|".join(re.escape(fold(w)) for w in words) + r")\b")
    return lambda cell: compiled.search(fold(cell)) is not None


@dataclass(frozen=True)
class Detector:
    field: str
    #: What the values look like, as the reason says it: "IP addresses".
    looks_like: str
    test: Callable[[str], bool]


DETECTORS: tuple[Detector, ...] = (
    Detector("ip_address", "IP addresses", _each(_is_ip)),
    Detector(
        "mac_address",
        "MAC addresses",
        _each(_pattern(r"([0-9a-f]{2}[:-]){5}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}")),
    ),
    Detector(
        "bios_uuid",
        "UUIDs",
        _pattern(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
            r"|([0-9a-f]{2} ){7}[0-9a-f]{2}-([0-9a-f]{2} ){7}[0-9a-f]{2}"
        ),
    ),
    Detector(
        "fqdn",
        "fully qualified domain names",
        _pattern(r"(?=.{4,253})([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z]"),
    ),
    Detector(
        "operating_system",
        "operating system names",
        _mentions(
            "windows", "ubuntu", "rhel", "red hat", "centos", "debian", "suse", "sles",
            "linux", "aix", "solaris", "hp-ux", "freebsd", "esxi", "rocky", "almalinux",
            "fedora", "unix", "macos", "z/os",
        ),
    ),
    Detector(
        "environment",
        "environment names",
        _words(
            "prod", "production", "dev", "development", "test", "testing", "uat", "qa",
            "staging", "stage", "preprod", "pre-prod", "pre-production", "integration", "int",
            "dr", "disaster recovery", "sandbox", "demo", "training", "Produktion",
            "Entwicklung", "Abnahme", "Qualitätssicherung", "Schulung", "Développement",
            "Recette", "Préproduction", "Intégration", "Formation",
        ),
    ),
    Detector(
        "power_state",
        "power states",
        _words(
            "poweredOn", "poweredOff", "suspended", "running", "stopped", "pending", "stopping",
            "terminated", "shutting-down", "on", "off", "eingeschaltet", "ausgeschaltet",
            "allumé", "éteint",
        ),
    ),
    Detector(
        "criticality",
        "criticality levels",
        _words(
            "low", "medium", "high", "critical", "very high", "mission critical", "niedrig",
            "mittel", "hoch", "sehr hoch", "kritisch", "faible", "moyen", "moyenne", "élevé",
            "élevée", "critique",
        ),
    ),
)  # fmt: skip

#: A size with its unit in the cell: `16 GB`, `8192 MB`, `1,5 To`.
_SIZE = re.compile(
    r"\s*([0-9]+(?:[.,][0-9]+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib|ko|mo|go|to)\s*",
    re.IGNORECASE,
)
_SIZE_UNITS = {
    "b": "B", "kb": "KB", "mb": "MB", "gb": "GB", "tb": "TB", "kib": "KiB", "mib": "MiB",
    "gib": "GiB", "tib": "TiB", "ko": "KB", "mo": "MB", "go": "GB", "to": "TB",
}  # fmt: skip
#: Each unit's size in GiB, for telling memory from storage by magnitude.
_IN_GIB = {"B": 2**-30, "KB": 2**-20, "KiB": 2**-20, "MB": 2**-10, "MiB": 2**-10, "GB": 1.0,
           "GiB": 1.0, "TB": 1024.0, "TiB": 1024.0}  # fmt: skip
#: A server's memory is rarely over this many GiB, its storage rarely under it.
MEMORY_CEILING_GIB = 512
#: Field -> (median at or above which a bare number is in the first unit, else the second):
#: 16384 is MB of memory and 16 GB of it; 102400 is MB of storage, 500 GB of it.
UNIT_GUESSES = {"memory_gb": (1024, "MB", "GB"), "storage_gb": (100_000, "MB", "GB")}


def sizes_with_units(cells: list[str]) -> tuple[str, float, bool] | None:
    """(the most common unit, the median size in GiB, whether the cells mix units) when
    every cell is a size with a unit, else None."""
    found = [_SIZE.fullmatch(cell) for cell in cells]
    if not cells or not all(found):
        return None
    units = [_SIZE_UNITS[m.group(2).casefold()] for m in found]
    gib = [float(m.group(1).replace(",", ".")) * _IN_GIB[u] for m, u in zip(found, units)]
    return max(set(units), key=units.count), statistics.median(gib), len(set(units)) > 1


def guess_unit(target: str, cells: list[str]) -> str:
    """The unit of a bare-number size column, from the magnitude of its values."""
    threshold, above, below = UNIT_GUESSES[target]
    numbers = [n for n in map(_number, cells) if n is not None]
    if not numbers:
        return below
    return above if statistics.median(numbers) >= threshold else below


def _number(cell: str) -> float | None:
    text = cell.strip().replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"[0-9]{1,3}([.,][0-9]{3})+", text):
        return float(re.sub(r"[.,]", "", text))
    if re.fullmatch(r"[0-9]+([.,][0-9]+)?", text):
        return float(text.replace(",", "."))
    return None
