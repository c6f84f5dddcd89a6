"""JSON exports: an array of objects (PowerShell's `ConvertTo-Json`) or JSON Lines.

Nested objects become dotted columns (`{"os": {"name": "Linux"}}` gives `os.name`), the
paths `pandas.json_normalize` would give; it is done here per row, because a frame of a
batch turns a missing key and a null alike into NaN and big integers into floats. Lists stay
JSON text. A line of JSON Lines that is not an object is one rejected row, wherever it is;
an array that breaks off makes the file unreadable from that point on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from wiring_pipeline.domain.ingest.sources.rows import (
    SourceRow,
    UnreadableFileError,
    cell_problem,
    cell_text,
    rejected,
)
from wiring_pipeline.domain.ingest.sources.text import display_name, open_text

_CHUNK = 1 << 20
_DECODER = json.JSONDecoder()


def flatten(value: dict, prefix: str = "") -> dict[str, str]:
    """An object's cells: nested objects as dotted paths, everything else as text."""
    cells: dict[str, str] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            cells.update(flatten(item, f"{path}."))
        else:
            cells[path] = cell_text(item)
    return cells


class ColumnMatcher:
    """Renames a row's keys that match a mapped column case-insensitively (trimmed)."""

    def __init__(self, mapped: tuple[str, ...]) -> None:
        self._by_fold = {name.strip().casefold(): name for name in mapped}
        self._cache: dict[str, str | None] = {}

    def apply(self, cells: dict[str, str]) -> dict[str, str]:
        renames = {}
        for key in cells:
            if key not in self._cache:
                wanted = self._by_fold.get(key.strip().casefold())
                self._cache[key] = wanted if wanted is not None and wanted != key else None
            wanted = self._cache[key]
            if wanted is not None and wanted not in cells:
                renames[key] = wanted
        if not renames:
            return cells
        return {renames.get(key, key): value for key, value in cells.items()}


def open_json(
    path: Path, filename: str, encoding: str, mapped: tuple[str, ...], stack: ExitStack
) -> Iterator[SourceRow]:
    """The rows of a JSON array or JSON Lines file, whichever the first character says."""
    handle = stack.enter_context(open_text(path, filename, encoding))
    head = handle.read(_CHUNK)
    stripped = head.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise UnreadableFileError(f"{filename}: the file is empty")
    matcher = ColumnMatcher(mapped)
    shown = display_name(encoding)
    if stripped[0] == "[":
        values = _array_values(handle, stripped[1:], filename)
        return _rows(((text, value, None) for text, value in values), matcher, shown)
    handle.seek(0)
    return _rows(_lines(handle), matcher, shown)


def _rows(items, matcher: ColumnMatcher, encoding: str) -> Iterator[SourceRow]:
    row_number = 0
    for raw_text, value, error in items:
        row_number += 1
        if error is not None:
            yield rejected(row_number, f"is not valid JSON: {error}", raw_text)
        elif not isinstance(value, dict):
            yield rejected(row_number, f"is a JSON {type(value).__name__}, not an object", raw_text)
        else:
            cells = matcher.apply(flatten(value))
            if not all(map(_encodable_key, cells)):
                yield rejected(row_number, f"a key has bytes that are not {encoding}", raw_text)
                continue
            problem = cell_problem(cells, encoding)
            if problem:
                yield rejected(row_number, problem, raw_text)
            else:
                yield SourceRow(row_number, cells)


def _encodable_key(key: str) -> bool:
    return cell_problem({"": key}, "") is None


def _lines(handle) -> Iterator[tuple[str, object, str | None]]:
    for number, line in enumerate(handle, start=1):
        text = line.rstrip("\r\n")
        if number == 1:
            text = text.lstrip("\ufeff")
        if not text.strip():
            continue
        try:
            yield text, json.loads(text), None
        except ValueError as error:
            yield text, None, str(error)


def _array_values(handle, buffer: str, filename: str) -> Iterator[tuple[str, object]]:
    """The elements of a top-level array, decoded one by one from a sliding buffer."""
    position, index, expect_value, eof = 0, 0, True, False
    while True:
        while position < len(buffer) and buffer[position] in " \t\r\n":
            position += 1
        if position >= len(buffer):
            if eof:
                raise UnreadableFileError(f"{filename}: the JSON array is not closed")
            buffer, position, eof = _refill(handle, buffer, position)
            continue
        char = buffer[position]
        if char == "]" and (expect_value is False or index == 0):
            return
        if not expect_value:
            if char != ",":
                raise UnreadableFileError(
                    f"{filename}: not a readable JSON array after element {index}"
                )
            position, expect_value = position + 1, True
            continue
        try:
            value, end = _DECODER.raw_decode(buffer, position)
        except ValueError as error:
            if eof:
                raise UnreadableFileError(
                    f"{filename}: not a readable JSON array at element {index + 1}: {error}"
                ) from error
            end = len(buffer)  # maybe cut off by the buffer: read on and try again
        if end >= len(buffer) and not eof:
            buffer, position, eof = _refill(handle, buffer, position)
            continue
        index += 1
        yield buffer[position:end], value
        position, expect_value = end, False


def _refill(handle, buffer: str, position: int) -> tuple[str, int, bool]:
    more = handle.read(_CHUNK)
    return buffer[position:] + more, 0, not more
