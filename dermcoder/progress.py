"""Progress display for long runs (batch, spark): a rich bar on a terminal, nothing otherwise.

Shown on stderr only when stderr is a terminal, so logs, pipes and CI stay clean. It
shows counts, notes per second and the time left; it never shows note text.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text


class RateColumn(ProgressColumn):
    """Notes per second over the last moments (rich's own speed estimate)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- notes/s" if speed is None else f"{speed:,.1f} notes/s", style="progress.data.speed")


@contextmanager
def note_progress(total: int, label: str, done: int = 0, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """Yield `update(completed)`; a bar with notes/s and ETA when stderr is a terminal, else a no-op."""
    err = Console(stderr=True)
    if quiet or not err.is_terminal:
        yield lambda completed: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TextColumn("ETA"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err) as bar:
        task = bar.add_task(label, total=total, completed=done)
        yield lambda completed: bar.update(task, completed=completed)
