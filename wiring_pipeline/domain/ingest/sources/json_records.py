"""JSON exports: an array of objects (PowerShell's `ConvertTo-Json`), JSON Lines, or one
document wrapping its records (`aws ec2 describe-instances`, read through the flow's records
path: `json_documents`).

Nested objects become dotted columns (`{"os": {"name": "Linux"}}` gives `os.name`), the
paths `pandas.json_normalize` would give; it is done here per row, because a frame of a
batch turns a missing key and a null alike into NaN and big integers into floats. AWS tags
(`[{"Key": "Name", "Value": "web-1"}]`) become a column per tag (`Tags.Name`); other lists
stay JSON text. A line of JSON Lines that is not an object is one rejected row, wherever it
is; an array that breaks off makes the file unreadable from that point on.

Row numbers are what a person finds the row by: the line of JSON Lines (blank lines keep
their numbers), the element's place (from 1) in an array or among a document's records.
Everything is read value by value (`json_stream`): no file is held whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path

from wiring_pipeline.domain.ingest.sources.json_documents import (
    JsonItem,
    document_shape,
    is_tag_list,
    path_records,
    wrapped_records_error,
)
from wiring_pipeline.domain.ingest.sources.json_stream import (
    JsonCursor,
    JsonValueError,
    decode_text,
    json_kind,
)
from wiring_pipeline.domain.ingest.sources.limits import COLUMNS, JSON_DEPTH
from wiring_pipeline.domain.ingest.sources.rows import (
    SourceRow,
    UnreadableFileError,
    cell_problem,
    cell_text,
    rejected,
)
from wiring_pipeline.domain.ingest.sources.text import display_name, open_text


class RecordTooDeepError(ValueError):
    """A record nests objects deeper than JSON_DEPTH: a rejected row, with this reason."""


def flatten(value: dict, prefix: str = "", depth: int = 1) -> dict[str, str]:
    """An object's cells: nested objects as dotted paths, AWS tags as a column per tag
    (`Tags.Name`: the key a flow maps, where a list's text could only be searched), everything
    else as text."""
    if depth > JSON_DEPTH.value:
        raise RecordTooDeepError(
            JSON_DEPTH.exceeded(f"nests objects more than {JSON_DEPTH.value} levels deep")
        )
    cells: dict[str, str] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            cells.update(flatten(item, f"{path}.", depth + 1))
        elif is_tag_list(item):
            cells.update((f"{path}.{tag['Key']}", cell_text(tag["Value"])) for tag in item)
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
    path: Path,
    filename: str,
    encoding: str,
    mapped: tuple[str, ...],
    records_path: str | None,
    stack: ExitStack,
) -> Iterator[SourceRow]:
    """The rows of a JSON array, a JSON Lines file, or a document read through its records
    path, whichever the options and the first character say."""
    handle = stack.enter_context(open_text(path, filename, encoding))
    cursor = JsonCursor(handle, filename)
    first = cursor.peek()
    if first is None:
        raise UnreadableFileError(f"{filename}: the file is empty")
    matcher = ColumnMatcher(mapped)
    shown = display_name(encoding)
    if records_path:
        return _rows(path_records(cursor, records_path, filename), matcher, shown)
    if first == "[":
        cursor.take("[")
        return _rows(_array_items(cursor, filename), matcher, shown)
    if first == "{":
        paths = document_shape(cursor)
        if paths:
            raise wrapped_records_error(filename, paths)
        if paths is not None:  # one object holding no records: it is the one record
            handle.seek(0)
            cursor = JsonCursor(handle, filename)
            return _rows(_one_record(cursor, filename), matcher, shown)
    handle.seek(0)
    return _rows(_lines(handle), matcher, shown)


def _rows(items: Iterable[JsonItem], matcher: ColumnMatcher, encoding: str) -> Iterator[SourceRow]:
    for row_number, raw_text, value, problem in items:
        if problem is not None:
            yield rejected(row_number, problem, raw_text)
        elif not isinstance(value, dict):
            yield rejected(row_number, f"is a JSON {json_kind(value)}, not an object", raw_text)
        else:
            try:
                cells = matcher.apply(flatten(value))
            except RecordTooDeepError as error:
                yield rejected(row_number, str(error), raw_text)
                continue
            except RecursionError:  # lists in lists (kept as JSON text) too deep to encode
                yield rejected(row_number, "is nested too deeply", raw_text)
                continue
            if len(cells) > COLUMNS.value:
                found = f"has {len(cells):,} columns"
                yield rejected(row_number, COLUMNS.exceeded(found), raw_text)
                continue
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


def _lines(handle) -> Iterator[JsonItem]:
    """JSON Lines: each line numbered as an editor shows it (blank lines are no rows but
    keep their numbers)."""
    for number, line in enumerate(handle, start=1):
        text = line.rstrip("\r\n")
        if number == 1:
            text = text.lstrip("\ufeff")
        if not text.strip():
            continue
        try:
            yield number, text, decode_text(text), None
        except JsonValueError as error:
            yield number, text, None, f"is not valid JSON: {error}"


def _array_items(cursor: JsonCursor, filename: str) -> Iterator[JsonItem]:
    """The elements of a top-level array, decoded one by one, numbered by their index from 1
    (a minified array has every element on line 1, so a line would not tell them apart)."""
    for index in cursor.elements("the JSON array"):
        try:
            text, value = cursor.decode()
        except JsonValueError as error:
            raise UnreadableFileError(
                f"{filename}: not a readable JSON array at element {index}: {error}"
            ) from error
        yield index, text, value, None
    if cursor.peek() is not None:
        cursor.refuse("more follows the closing ] of the array")


def _one_record(cursor: JsonCursor, filename: str) -> Iterator[JsonItem]:
    """A file that is one object holding no lists of records: that object, at its line."""
    cursor.peek()  # to the object's first character, so that its line is the one counted
    line = cursor.line
    try:
        text, value = cursor.decode()
    except JsonValueError as error:
        raise UnreadableFileError(f"{filename}: not a readable JSON object: {error}") from error
    yield line, text, value, None
