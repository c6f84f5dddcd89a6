"""Progress of an in-process run on stderr: one line per stage, rows as they are read.

Dagster calls the instance's event listeners in this process for every event of the run,
so the stages' starts, ends and log lines (the loader logs rows read per file) drive a rich
progress display without polling.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import DagsterInstance
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

#: The discovery job's steps and how the progress names them.
STAGES = {
    "raw_import_records": "load files",
    "cleansed_import_records": "cleanse records",
    "asset_inventory": "build inventory",
    "wiring_health": "measure wiring health",
}


@contextmanager
def stage_progress(instance: DagsterInstance, run_id: str) -> Iterator[None]:
    """Show the run's stages on stderr while the block runs the job `run_id`."""
    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        tasks: dict[str, int] = {}

        def on_event(entry) -> None:
            step = entry.step_key
            label = STAGES.get(step or "")
            if label is None:
                return
            event = entry.dagster_event
            if event is not None and event.is_step_start:
                tasks[step] = progress.add_task(label, total=1)
            elif step not in tasks:
                return
            elif event is not None and (event.is_step_success or event.is_step_failure):
                outcome = "done" if event.is_step_success else "failed"
                progress.update(tasks[step], description=f"{label}: {outcome}", completed=1)
            elif event is None and entry.user_message:
                progress.update(tasks[step], description=f"{label}: {entry.user_message}")

        instance.add_event_listener(run_id, on_event)
        yield
