"""`flow suggest FILE [--sheet S]`: the proposed flow spec for a file, as JSON on stdout.

Thin: the reading and the matching are `domain/ingest/suggest_file.py`. Nothing is written
and no database is needed, so a consultant can try a file before any tenant exists; the
printed `spec` is what `flow add --mappings` takes once corrected.
"""

from __future__ import annotations

from pathlib import Path

import click

from wiring_pipeline.cli.common import BadInput, echo_json
from wiring_pipeline.domain.core.errors import UserInputError
from wiring_pipeline.domain.ingest.suggest_file import suggest_for_file


@click.command("suggest")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sheet", help="Worksheet of an .xlsx file (default: the profile's, else the first)."
)
def suggest(file: Path, sheet: str | None) -> None:
    """Propose a flow spec for FILE: a known export profile, else each column matched to a
    field by its name (English, German, French) and its values; with a confidence and a
    reason per column, the unmapped columns and warnings. Writes nothing."""
    try:
        suggestion = suggest_for_file(file, sheet)
    except UserInputError as error:
        # Also one line when the command runs outside the root group (`flow add --from`).
        raise BadInput(str(error)) from error
    echo_json(suggestion.as_json())
