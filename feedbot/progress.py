"""Progress for long commands: a rich bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["bar", "table_progress"]

PLAIN_EVERY = 2.0  # seconds between plain progress lines


def bar(label: str, enabled: bool) -> Progress:
    """A transient progress bar on stderr, shown only when ``enabled`` and on a terminal."""
    console = Console(stderr=True)
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
        transient=True,
    )


@contextmanager
def table_progress(stream: TextIO, verb: str) -> Iterator[Callable[[str, int, int], None]]:
    """A ``(name, done, total)`` callback: one bar per name on a terminal, else a line
    ``feedbot: <verb> <name>: done/total`` at most every few seconds and at each end."""
    if stream.isatty():
        with bar("", True) as progress:
            tasks: dict[str, TaskID] = {}

            def advance(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=total)
                progress.update(tasks[name], completed=done, description=f"{verb} {name}")

            yield advance
        return
    last = 0.0

    def line(name: str, done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done == total or now - last >= PLAIN_EVERY:
            last = now
            print(f"feedbot: {verb} {name}: {done}/{total}", file=stream, flush=True)

    yield line
