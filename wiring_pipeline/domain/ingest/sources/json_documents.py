"""JSON documents that wrap their records: `aws ec2 describe-instances` gives one object,
`{"Reservations": [{"Instances": [...]}, ...]}`, not an array or JSON Lines (DESIGN 3d).

A flow's records path says where the records are: keys from the root separated by dots,
`[]` after a key whose value is a list to go through (`Reservations[].Instances[]`). The
document is walked with a `JsonCursor`, so only one record (or one member stepped over) is
decoded at a time, never the whole document. A record is numbered by its place among the
document's records (1-based): a person finds the third instance as the third, and a
minified document has all its records on one line, so a line number would not tell them
apart. A member on the way that is not what the path says (`Instances` is a string) is one
rejected row, kept with its reason; a path that finds nothing at all refuses the file.

A file that is one JSON object and has no records path is either one record, or a wrapper
the user must give a path for: `document_shape` tells which and finds the likely path.
"""

from __future__ import annotations

from collections.abc import Iterator

from wiring_pipeline.domain.contract.flow_spec import RECORDS_PATH
from wiring_pipeline.domain.ingest.sources.json_stream import (
    JsonCursor,
    JsonValueError,
    JsonValueTooLongError,
    json_kind,
)
from wiring_pipeline.domain.ingest.sources.rows import UnreadableFileError

#: (row number, raw text, value, why it is rejected or None).
JsonItem = tuple[int, str, object, str | None]
_EXAMPLE = "Reservations[].Instances[]"


class WrappedRecordsError(UnreadableFileError):
    """The file is one JSON object wrapping lists of records, and no records path was given.

    `records_paths` are the paths found, the likeliest first, for a caller that proposes one
    (`flow suggest`) rather than saying so.
    """

    def __init__(self, message: str, records_paths: tuple[str, ...]) -> None:
        super().__init__(message)
        self.records_paths = records_paths


def records_path_steps(path: str, filename: str) -> list[tuple[str, bool]]:
    """The path's steps: (key, whether its value is a list to go through), by the flow
    spec's rule (`contract.flow_spec.RECORDS_PATH`)."""
    if not RECORDS_PATH.match(path.strip()):
        raise UnreadableFileError(
            f"{filename}: the records path {path!r} is not a path such as {_EXAMPLE}"
        )
    return [
        (part[:-2], True) if part.endswith("[]") else (part, False)
        for part in path.strip().split(".")
    ]


def path_records(cursor: JsonCursor, path: str, filename: str) -> Iterator[JsonItem]:
    """The records the path finds in the document under the cursor, numbered from 1."""
    steps = records_path_steps(path, filename)
    if cursor.peek() != "{":
        raise UnreadableFileError(
            f"{filename}: the records path {path!r} needs one JSON object at the top of the"
            f" file, and it starts with {cursor.peek() or 'nothing'!r}"
        )
    found = 0
    for found, (text, value, problem) in enumerate(_walk(cursor, steps, ""), start=1):
        yield found, text, value, problem
    if cursor.peek() is not None:
        cursor.refuse("more follows the document's top-level object")
    if not found:
        raise UnreadableFileError(f"{filename}: the records path {path!r} finds no records")


def _walk(cursor: JsonCursor, steps: list[tuple[str, bool]], where: str):
    """(text, value, problem) of each record under the value at the cursor."""
    if not steps:
        text, value = _decoded(cursor)
        if isinstance(value, list):
            yield text, None, f"{where} is a JSON list: the records path needs [] after it"
        elif not isinstance(value, dict):
            yield text, None, f"{where} is a JSON {json_kind(value)}, not an object"
        else:
            yield text, value, None
        return
    if cursor.peek() != "{":
        text, value = _decoded(cursor)
        yield text, None, f"{where} is a JSON {json_kind(value)}, not an object"
        return
    cursor.take("{")
    key, through_list = steps[0]
    for member in cursor.members(where or "the document"):
        if member != key:
            _decoded(cursor)  # stepped over; a broken member breaks the document below
            continue
        here = f"{where}.{key}" if where else key
        if not through_list:
            yield from _walk(cursor, steps[1:], here)
        elif cursor.take("["):
            for index in cursor.elements(here):
                yield from _walk(cursor, steps[1:], f"{here}[{index}]")
        else:
            text, value = _decoded(cursor)
            if value is not None:  # a null list holds no records
                yield text, None, f"{here} is a JSON {json_kind(value)}, not a list"


def _decoded(cursor: JsonCursor) -> tuple[str, object]:
    try:
        return cursor.decode()
    except JsonValueError as error:
        cursor.refuse(str(error), placed=True)


def document_shape(cursor: JsonCursor) -> list[str] | None:
    """For a file starting with `{`: None when it is not one JSON object (JSON Lines), else
    the records paths it could be read through, the likeliest first (empty: one record).

    Top-level members are decoded one at a time; a list is gone through element by element,
    its first object telling how deep the records are.
    """
    cursor.take("{")
    candidates: list[tuple[int, str]] = []
    try:
        for key in cursor.members("the object"):
            if not cursor.take("["):
                cursor.decode()
                continue
            first, count = None, 0
            for count in cursor.elements(key):
                value = cursor.decode()[1]
                first = value if count == 1 else first
            if _pathable(key) and _is_record_list([first] if isinstance(first, dict) else []):
                candidates.append((count, f"{key}[]{_deeper(first)}"))
    except JsonValueTooLongError:
        raise
    except (UnreadableFileError, JsonValueError):
        return None
    if cursor.peek() is not None:
        return None
    return [path for _, path in sorted(candidates, key=lambda c: -c[0])]


def _deeper(record: dict) -> str:
    """The rest of the path below one list's first object: follow the list of objects whose
    objects are widest, as long as they are wider than the objects holding them (a
    reservation holds instances, an instance's network interfaces are its details)."""
    lists = [
        (key, value[0])
        for key, value in record.items()
        if _pathable(key) and _is_record_list(value)
    ]
    if not lists:
        return ""
    key, first = max(lists, key=lambda item: len(item[1]))
    if len(first) <= len(record):
        return ""
    return f".{key}[]{_deeper(first)}"


def _pathable(key: str) -> bool:
    """Whether a records path can name the key (it has no `.`, `[` or `]`)."""
    return bool(key) and not any(char in key for char in ".[]")


def _is_record_list(value: object) -> bool:
    """A non-empty list of objects that is not a list of tags (those become columns)."""
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and not is_tag_list(value)
    )


def is_tag_list(value: object) -> bool:
    """AWS tags: a non-empty list of `{"Key": name, "Value": value}` pairs and nothing else."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(item, dict)
            and item.keys() == {"Key", "Value"}
            and isinstance(item["Key"], str)
            for item in value
        )
    )


def wrapped_records_error(filename: str, paths: list[str]) -> WrappedRecordsError:
    keys = ", ".join(repr(path.split("[", 1)[0]) for path in paths)
    return WrappedRecordsError(
        f"{filename}: the file is one JSON object, not a list of records; its top-level"
        f" key(s) {keys} hold lists of objects: give the flow a records path such as"
        f" {paths[0]!r}",
        tuple(paths),
    )
