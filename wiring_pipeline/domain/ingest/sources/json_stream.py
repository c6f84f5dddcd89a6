"""Walking a JSON text value by value, so that no document is ever held whole.

A `JsonCursor` reads a text handle through a sliding buffer and decodes one value at a time
(an array's element, an object's member); the containers around them are only stepped
through. Memory is bounded by the largest single value decoded (`MAX_JSON_VALUE_CHARS`),
whatever the document's size, and a value nested past Python's recursion limit is refused
rather than crashing the reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import NoReturn

from wiring_pipeline.domain.ingest.sources.limits import JSON_VALUE_CHARS
from wiring_pipeline.domain.ingest.sources.rows import FileLimitError, UnreadableFileError

#: The longest JSON value decoded whole (`limits.JSON_VALUE_CHARS`): one record, one array
#: element, one member skipped on the way to the records. A file holding a longer one is
#: refused in one line, so a single runaway value cannot take the memory of the whole run.
MAX_JSON_VALUE_CHARS = JSON_VALUE_CHARS.value
#: Text read per refill; a value cut by the buffer makes the next read as long as the buffer,
#: so a long value is decoded again a logarithmic number of times, not once per block.
_CHUNK = 1 << 20
#: A decoding error this close to the buffer's end may only mean the value was cut off.
_CUT_SLACK = 32
#: JSON's whitespace, and the byte-order mark a file saved as UTF-8 with a BOM starts with.
_WHITESPACE = " \t\r\n\ufeff"
_DECODER = json.JSONDecoder()


class JsonValueError(ValueError):
    """One value is not valid JSON (the reason, as the json module words it)."""


class JsonValueTooLongError(FileLimitError):
    """One value is longer than MAX_JSON_VALUE_CHARS: the file is refused, whatever it is."""


def json_kind(value: object) -> str:
    """How a reason names a decoded value's type: `object`, `list`, `str`…"""
    return "object" if isinstance(value, dict) else type(value).__name__


def decode_text(text: str) -> object:
    """One complete JSON text; JsonValueError when it is not valid or nested too deeply."""
    try:
        return json.loads(text)
    except RecursionError as error:
        raise JsonValueError("nested too deeply") from error
    except ValueError as error:
        raise JsonValueError(str(error)) from error


class JsonCursor:
    """A position in a JSON text: what comes next, one value at a time."""

    def __init__(self, handle, filename: str) -> None:
        self._handle = handle
        self._buffer = handle.read(_CHUNK)
        self._position = 0
        self._eof = False
        self._filename = filename
        #: The line of `_buffer[_counted]`: lines are counted up to the position lazily.
        self._line = 1
        self._counted = 0

    @property
    def line(self) -> int:
        """The line (from 1) the cursor is on; JSON strings hold no raw line breaks."""
        self._count_lines()
        return self._line

    def peek(self) -> str | None:
        """The next character that is not whitespace, or None at the end of the text."""
        while True:
            buffer, position = self._buffer, self._position
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            self._position = position
            if position < len(buffer):
                return buffer[position]
            if self._eof:
                return None
            self._refill(_CHUNK)

    def take(self, char: str) -> bool:
        """Step over `char` if it comes next."""
        if self.peek() != char:
            return False
        self._position += 1
        return True

    def decode(self) -> tuple[str, object]:
        """The next value, whole, and its text. JsonValueError when it is not valid JSON (the
        reason names the file's line); UnreadableFileError when it is longer than
        MAX_JSON_VALUE_CHARS."""
        self.peek()
        while True:
            buffer, start = self._buffer, self._position
            try:
                value, end = _DECODER.raw_decode(buffer, start)
            except RecursionError as error:
                raise JsonValueError(f"nested too deeply at line {self.line}") from error
            except ValueError as error:
                if self._eof or not _maybe_cut_off(error, len(buffer)):
                    raise JsonValueError(self._reason(error)) from error
                end = len(buffer)
            if end - start > MAX_JSON_VALUE_CHARS:
                raise JsonValueTooLongError(
                    f"{self._filename}: the JSON value at line {self.line} is longer than"
                    f" {MAX_JSON_VALUE_CHARS:,} characters, the limit of one value"
                    f" ({JSON_VALUE_CHARS.name})"
                )
            if end < len(buffer) or self._eof:
                self._position = end
                return buffer[start:end], value
            self._refill(max(_CHUNK, len(buffer) - start))

    def _reason(self, error: ValueError) -> str:
        """The json module's reason, placed by the file's line rather than the buffer's."""
        if not isinstance(error, json.JSONDecodeError):
            return str(error)
        line = self.line + self._buffer.count("\n", self._position, error.pos)
        return f"{error.msg} at line {line}"

    def elements(self, what: str) -> Iterator[int]:
        """After `[`: each element's index (from 1); the caller reads the element each time."""
        if self.take("]"):
            return
        index = 1
        while True:
            yield index
            if not self._another("]", what, f"element {index}"):
                return
            index += 1

    def members(self, what: str) -> Iterator[str]:
        """After `{`: each member's key; the caller reads the member's value each time."""
        if self.take("}"):
            return
        while True:
            if self.peek() != '"':
                self.refuse(f"{what} has no member name where one must be")
            key = str(self.decode()[1])
            if not self.take(":"):
                self.refuse(f"{what} has no ':' after the member name {key!r}")
            yield key
            if not self._another("}", what, f"its member {key!r}"):
                return

    def _another(self, closing: str, what: str, item: str) -> bool:
        """After an element or a member: whether another follows (else the container closes)."""
        if self.take(","):
            return True
        if self.take(closing):
            return False
        self.refuse(f"{what} is not closed after {item}")

    def refuse(self, reason: str, placed: bool = False) -> NoReturn:
        """Refuse the file for a reason found here (`placed`: the reason names its line)."""
        where = "" if placed else f" at line {self.line}"
        raise UnreadableFileError(
            f"{self._filename}: not a readable JSON document: {reason}{where}"
        )

    def _refill(self, size: int) -> None:
        self._count_lines()  # the text before the position is about to be dropped
        more = self._handle.read(size)
        self._buffer = self._buffer[self._position :] + more
        self._position = self._counted = 0
        self._eof = not more

    def _count_lines(self) -> None:
        self._line += self._buffer.count("\n", self._counted, self._position)
        self._counted = self._position


def _maybe_cut_off(error: ValueError, length: int) -> bool:
    """Whether a decoding error may come from the buffer's end rather than the text."""
    if not isinstance(error, json.JSONDecodeError):
        return True
    return error.msg.startswith("Unterminated string") or error.pos >= length - _CUT_SLACK
