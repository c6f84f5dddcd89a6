"""A CSV reader that fails part-way through one file, for the tests of a failed import."""

from __future__ import annotations

from itertools import islice

from wiring_pipeline.domain.ingest import sources


def fail_after(monkeypatch, filename: str, rows: int, error: BaseException) -> None:
    """`filename` reads its first `rows` rows, then its reader raises `error`; other files
    read as usual."""
    real_open_delimited = sources.open_delimited

    def open_delimited(path, name, *args):
        header, read = real_open_delimited(path, name, *args)
        if name != filename:
            return header, read

        def rows_then_error():
            yield from islice(read, rows)
            raise error

        return header, rows_then_error()

    monkeypatch.setattr(sources, "open_delimited", open_delimited)
