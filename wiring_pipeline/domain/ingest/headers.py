"""What a column header says once its spelling is set aside: its words and its unit.

Exports spell one idea many ways (`*Memory (In MB)`, `RAM.TotalSizeInMB`, `Speicher MB`,
`Mémoire (Go)`, `memory_gb`), so headers are compared in one normal form: accents and case
dropped, punctuation and camel case split into words, and a unit, in brackets or as the
last word, taken out and kept apart. The profiles read a column's unit from its header
with this, and the suggestion matches names with it; both see the same words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from wiring_pipeline.domain.contract.flow_spec import UNITS

#: Unit words as headers write them -> the unit of the flow spec. French writes octets
#: (`Mo`, `Go`); those short words are units only inside brackets (`Assigned to` is no TB).
_UNIT_WORDS = {name.casefold(): name for name in UNITS if name != "B"} | {"bytes": "B"}
_BRACKETED_UNIT_WORDS = _UNIT_WORDS | {"b": "B", "ko": "KB", "mo": "MB", "go": "GB", "to": "TB"}
#: `(MB)`, `[GiB]`, `(In MB)`, `(en Go)`: a unit alone in brackets, perhaps after in/en.
_BRACKETED = re.compile(r"[\(\[]\s*(?:(?:in|en)\s+)?([a-z]{1,5})\s*[\)\]]", re.IGNORECASE)
#: A word boundary inside a camel-case token: `HostName`, `IPAddress`, `TotalSizeInMB`.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPELLED = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O"})


@dataclass(frozen=True)
class Header:
    """A header's words (lower-case, no accents, no unit) and the unit it names, if any."""

    words: tuple[str, ...]
    unit: str | None
    #: Whether the header speaks of a share (`%`), which is never a size or a count.
    percent: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.words)


def fold(text: str) -> str:
    """Lower-case, without accents (`Mémoire` and `memoire` are one word)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPELLED))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def read_header(header: str) -> Header:
    """The words and unit of one header (`*Memory (In MB)` -> `memory`, MB)."""
    unit = None
    text = header.translate(_SPELLED)
    for match in _BRACKETED.finditer(text):
        found = _BRACKETED_UNIT_WORDS.get(match.group(1).casefold())
        if found:
            unit = unit or found
            text = text[: match.start()] + " " + text[match.end() :]
    percent = "%" in text
    words: list[str] = []
    for token in re.split(r"[^0-9A-Za-zÀ-ÿ]+", text):
        if not token:
            continue
        if token.casefold() in _UNIT_WORDS:
            words.append(token)
            continue
        words += [part for part in _CAMEL.split(token) if part]
    folded = [fold(word) for word in words]
    if unit is None and folded and folded[-1] in _UNIT_WORDS:
        unit = _UNIT_WORDS[folded.pop()]
        if folded and folded[-1] in ("in", "en"):  # `TotalSizeInMB`, `Taille en Go`
            folded.pop()
    return Header(tuple(folded), unit, percent)


def header_unit(header: str) -> str | None:
    """The unit a header names (`Provisioned MiB` -> MiB), None when it names none."""
    return read_header(header).unit


def header_key(header: str) -> str:
    """How the readers match a column: trimmed and in any case (DESIGN 3c)."""
    return header.strip().casefold()
