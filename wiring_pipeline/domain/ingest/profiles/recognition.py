"""Which declared profile a file has the shape of, read from its header alone."""

from __future__ import annotations

from collections.abc import Iterable

from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.ingest.headers import header_key
from wiring_pipeline.domain.ingest.profiles.declarations import PROFILES
from wiring_pipeline.domain.ingest.profiles.model import Profile


def recognise(header_columns: Iterable[str], sheet_names: Iterable[str] = ()) -> Profile | None:
    """The profile whose shape the header has, or None.

    A profile is a candidate only when the header has a column of each group of its
    signature (matched trimmed and in any case, as `import` matches columns). Among
    candidates the one naming most of the header's columns wins, then the one whose
    worksheet is among `sheet_names` (the worksheet read, or the workbook's), then the one
    declared first.
    """
    present = {header_key(column) for column in header_columns}
    sheets = {header_key(sheet) for sheet in sheet_names}
    best, best_score = None, None
    for order, profile in enumerate(PROFILES):
        if not all(present & {header_key(c) for c in group} for group in profile.signature):
            continue
        named = len(present & profile.declared_columns())
        score = (named, bool(profile.sheet and header_key(profile.sheet) in sheets), -order)
        if best_score is None or score > best_score:
            best, best_score = profile, score
    return best


def profile_named(name: str) -> Profile:
    """A declared profile by its name; an unknown name is the user's error, listing all."""
    for profile in PROFILES:
        if profile.name == name:
            return profile
    raise UserInputError(
        f"unknown profile {name!r}; profiles are: {', '.join(p.name for p in PROFILES)}"
    )


def profile_sheets() -> tuple[str, ...]:
    """The worksheets the profiles' tools write, in declaration order, each once."""
    return tuple(dict.fromkeys(p.sheet for p in PROFILES if p.sheet))
