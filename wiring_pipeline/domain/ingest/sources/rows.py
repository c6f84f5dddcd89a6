"""What every source format shares: rows, headers, cell text, and the mapped columns.

A header is made usable rather than refused: names are trimmed, an unnamed column is
ignored, and a repeated name gets a suffix (`Notes`, `Notes_2`); only a header past the
limits (`limits`: its columns, a name's length) refuses the file. Only the columns a flow
maps must be unambiguous. A mapped column is found trimmed and case-insensitively, and its
key in the raw record is the mapping's spelling, so the cleansing finds `Environment`
whether the file says `Environment` or `ENVIRONMENT `.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time

from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.ingest.sources.limits import (
    CELL_CHARS,
    COLUMNS,
    HEADER_NAME_CHARS,
    Limit,
)

#: The longest cell the loader accepts (`limits.CELL_CHARS`).
MAX_CELL_CHARS = CELL_CHARS.value
#: How much of a rejected row's raw text is kept (the source file has the rest).
MAX_REJECTED_TEXT_CHARS = 65_536


class UnreadableFileError(UserInputError):
    """The file as a whole cannot be read; the message says why, naming the file."""


class MappedColumnError(UnreadableFileError):
    """A column the flow maps is missing from the file, or ambiguous in it."""


class FileLimitError(UnreadableFileError):
    """The file is past one of the documented limits (`limits`), checked before it is read
    any further."""


def check_limit(limit: Limit, found: int, filename: str, what: str, subject: str = "") -> None:
    """Refuse the file when `found` is over the limit. `what` says what was found, `{}`
    standing for the number (`the header has {} columns`); `subject`, put before it, may be
    the file's own text (a sheet's title), so it is never formatted."""
    if found > limit.value:
        raise FileLimitError(limit.refusal(filename, subject + what.replace("{}", f"{found:,}")))


@dataclass(frozen=True)
class SourceRow:
    """One data row: its cells by column, or the reason it cannot be loaded."""

    row_number: int
    cells: dict[str, str] | None
    rejection: str | None = None
    raw_text: str | None = None


@dataclass(frozen=True)
class Header:
    """The keys of a row of cells: None for an ignored (unnamed) column."""

    keys: list[str | None]
    #: Each name as the file spells it (trimmed), for matching the mapped columns.
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Asked once per row: whether some column is ignored (a clean header ignores none).
        object.__setattr__(self, "ignores", None in self.keys)


def make_header(cells: Iterable[str], filename: str) -> Header:
    """Trimmed names; unnamed columns ignored; repeats made unique (`Notes`, `Notes_2`).

    A repeat takes the first free `name_N`. Each name remembers the last N it took, so the
    next repeat resumes there rather than trying `_2`, `_3`… again: a header of 20 000 `x`
    is named in linear time. The names are those of trying from `_2` every time, because a
    name once taken stays taken.
    """
    names = [cell.strip() for cell in cells]
    check_limit(COLUMNS, len(names), filename, "the header has {} columns")
    check_limit(
        HEADER_NAME_CHARS,
        max(map(len, names), default=0),
        filename,
        "a column name of the header is {} characters long",
    )
    keys: list[str | None] = []
    seen: set[str] = set()
    last_suffix: dict[str, int] = {}
    for name in names:
        if not name:
            keys.append(None)
            continue
        if "\x00" in name or not is_encodable(name):
            raise UnreadableFileError(f"{filename}: the header is not readable text")
        key = name
        if key in seen:
            suffix = last_suffix.get(name, 1)
            while key in seen:
                suffix += 1
                key = f"{name}_{suffix}"
            last_suffix[name] = suffix
        seen.add(key)
        keys.append(key)
    if not seen:
        raise UnreadableFileError(f"{filename}: no header row")
    return Header(keys, names)


def match_mapped_columns(names: list[str], mapped: Iterable[str]) -> tuple[dict[int, str], list]:
    """Where each mapped column is: {position: mapped name}, and the problems found.

    An exact (trimmed) match wins; otherwise one case-insensitive match. A name found twice
    is ambiguous; a missing one is reported with the closest name the file has.
    """
    positions: dict[int, str] = {}
    problems: list[str] = []
    for wanted in mapped:
        target = wanted.strip()
        exact = [i for i, name in enumerate(names) if name == target]
        folded = [i for i, name in enumerate(names) if name.casefold() == target.casefold()]
        found = exact or folded
        if len(found) == 1:
            positions[found[0]] = wanted
        elif found:
            problems.append(
                f"mapped column {wanted!r} is ambiguous: the header has it {len(found)} times"
            )
        else:
            problems.append(
                f"mapped column {wanted!r} is not in the header{_closest(target, names)}"
            )
    return positions, problems


def _closest(wanted: str, names: list[str]) -> str:
    present = [name for name in names if name]
    if not present:
        return " (it has no columns)"
    by_fold = {name.casefold(): name for name in present}
    close = difflib.get_close_matches(wanted.casefold(), list(by_fold), n=1, cutoff=0.5)
    if close:
        return f" (closest: {by_fold[close[0]]!r})"
    shown = ", ".join(present[:12]) + (", …" if len(present) > 12 else "")
    return f" (it has: {shown})"


def with_mapped_keys(header: Header, mapped: Iterable[str], filename: str, strict: bool) -> Header:
    """The header with each mapped column keyed by the mapping's spelling.

    `strict` (at `import`) makes a missing or ambiguous mapped column an error; the loader
    is lenient, so an import registered before these checks still loads.
    """
    positions, problems = match_mapped_columns(header.names, mapped)
    if problems and strict:
        raise MappedColumnError(f"{filename}: {'; '.join(problems)}")
    keys = list(header.keys)
    for position, wanted in positions.items():
        if keys[position] != wanted and wanted not in keys:
            keys[position] = wanted
    return Header(keys, header.names)


def row_from_cells(
    row_number: int, header: Header, values: list[str], raw_text: str, encoding: str
) -> SourceRow:
    """Check a row of cells against the header; the same rules for every format."""
    width = len(header.keys)
    end = len(values)
    while end > width and not values[end - 1].strip():
        end -= 1
    if end < len(values):
        values = values[:end]
    if len(values) < width and all(key is None for key in header.keys[len(values) :]):
        values = values + [""] * (width - len(values))
    if len(values) != width:
        return rejected(
            row_number, f"row has {len(values)} fields, the header has {width}", raw_text
        )
    if header.ignores:
        cells = {key: value for key, value in zip(header.keys, values) if key is not None}
    else:
        cells = dict(zip(header.keys, values))
    problem = cell_problem(cells, encoding)
    if problem:
        return rejected(row_number, problem, raw_text)
    return SourceRow(row_number, cells)


def cell_problem(cells: dict[str, str], encoding: str) -> str | None:
    """Why a row of text cells cannot be stored, or None when it can.

    The whole row is checked at once first (the common, clean case costs a join and an
    encode); only a row that fails is searched cell by cell for the reason.
    """
    joined = "".join(cells.values())
    if len(joined) <= MAX_CELL_CHARS and "\x00" not in joined and is_encodable(joined):
        return None
    for column, value in cells.items():
        if len(value) > MAX_CELL_CHARS:
            return (
                f"cell {column!r} is {len(value)} characters long, over the "
                f"{MAX_CELL_CHARS}-character limit"
            )
        if "\x00" in value:
            return f"cell {column!r} contains a NUL character"
        if not is_encodable(value):
            return f"cell {column!r} has bytes that are not {encoding}"
    return None


def is_encodable(value: str) -> bool:
    """False when decoding left undecodable bytes behind (as lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def visible(raw: str) -> str:
    """Text safe to store: undecodable bytes shown as \\xNN escapes, NUL as \\x00."""
    shown = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return shown.replace("\x00", "\\x00")[:MAX_REJECTED_TEXT_CHARS]


def unreadable_reason(filename: str, failure: Exception) -> str:
    """One line naming the file and what a reader met that it did not expect."""
    detail = " ".join(str(failure).split())[:300] or "no detail"
    return f"{filename}: could not be read ({type(failure).__name__}: {detail})"


def rejected(row_number: int, reason: str, raw_text: str) -> SourceRow:
    return SourceRow(row_number, None, reason, visible(raw_text))


def cell_text(value: object) -> str:
    """A cell as text, whatever type the source gave it (a midnight datetime is a date)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
