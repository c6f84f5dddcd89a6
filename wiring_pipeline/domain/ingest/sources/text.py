"""Decoding a text file once, as a whole: which encoding, chosen from the bytes.

Consultants bring files saved by Excel and PowerShell on Windows, so the choice is made per
file, never per row (a row with `Müller` is not "bad bytes" in a Windows-1252 file):

1. a byte-order mark names the encoding: UTF-8, UTF-16 or UTF-32;
2. NUL bytes in the first block mean a wide encoding without a mark: charset-normalizer
   tells UTF-16 or UTF-32 and the byte order from the bytes;
3. a file that is valid UTF-8 from end to end is UTF-8 (checked incrementally, in blocks);
4. anything else is the single-byte Windows code page 1252 (Latin-1 when it uses one of the
   five bytes cp1252 leaves undefined).

`--encoding` at `import` overrides the choice; the import records the encoding used.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from charset_normalizer import from_bytes

from wiring_pipeline.domain.ingest.sources.rows import UnreadableFileError

_BLOCK = 1 << 20
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WIDE = ["utf_16_le", "utf_16_be", "utf_32_le", "utf_32_be"]


def check_encoding_name(name: str) -> str:
    """The codec's canonical name; an unknown name is the user's mistake, said in one line."""
    try:
        return codecs.lookup(name).name
    except LookupError as error:
        raise UnreadableFileError(f"unknown encoding {name!r}") from error


def detect_encoding(path: Path, filename: str) -> str:
    """The encoding of a text file, from its bytes (see the module's rules)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_BLOCK)
            for bom, encoding in _BOMS:
                if head.startswith(bom):
                    return encoding
            if b"\x00" in head:
                guess = from_bytes(head, cp_isolation=_WIDE).best()
                if guess is None:
                    raise UnreadableFileError(f"{filename}: not a text file (it has NUL bytes)")
                return guess.encoding.replace("_", "-")
            if _is_utf8(handle, head):
                return "utf-8"
            handle.seek(0)
            return "cp1252" if _decodes(handle, "cp1252") else "latin-1"
    except FileNotFoundError as error:
        raise UnreadableFileError(f"{filename}: the stored file {path} is missing") from error
    except OSError as error:
        raise UnreadableFileError(f"{filename}: cannot open {path}: {error}") from error


def _is_utf8(handle, head: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head)
        for block in iter(lambda: handle.read(_BLOCK), b""):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _decodes(handle, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            decoder.decode(block)
    except UnicodeDecodeError:
        return False
    return True


def display_name(encoding: str) -> str:
    """How a reason names the encoding: `UTF-8`, `cp1252`."""
    name = codecs.lookup(encoding).name
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16"}.get(name, name)


def open_text(path: Path, filename: str, encoding: str):
    """The file as text; a byte the encoding cannot decode survives as a lone surrogate, so
    the row holding it is rejected on its own rather than stopping the file."""
    try:
        return path.open(encoding=encoding, errors="surrogateescape", newline="")
    except FileNotFoundError as error:
        raise UnreadableFileError(f"{filename}: the stored file {path} is missing") from error
    except OSError as error:
        raise UnreadableFileError(f"{filename}: cannot open {path}: {error}") from error
