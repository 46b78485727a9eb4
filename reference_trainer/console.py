"""Console output for a run (rank 0 only): plain log lines, the aligned config block, a rich progress bar.

Nothing printed here goes into the log file; the log file is written by `loglines.RunLog` alone.
"""

from __future__ import annotations

from rich.console import Console as RichConsole
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class Console:
    def __init__(self, enabled: bool = True, progress: bool = True) -> None:
        self.enabled = enabled
        self.rich = RichConsole(highlight=False, soft_wrap=True)
        self.show_progress = enabled and progress and self.rich.is_terminal
        self._progress: Progress | None = None
        self._task = None

    def line(self, text: str) -> None:
        if self.enabled:
            self.rich.print(text, markup=False, highlight=False)

    def block(self, title: str, lines: list[str]) -> None:
        if self.enabled:
            self.rich.print(f"[bold]{title}[/bold]")
            for text in lines:
                self.rich.print(text, markup=False, highlight=False)

    def start(self, total: int, description: str = "train") -> None:
        if not self.show_progress:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=self.rich, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, info="")

    def advance(self, step: int, info: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step, info=info)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
