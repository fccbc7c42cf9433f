"""A live line for a search: trial i / N, the stage, the best value so far, elapsed time and what is
left. Transient, and only on a terminal: the lecture's one line per trial stays the record."""

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from babysit.verdict import console


class SearchProgress:
    def __init__(self, total: int, done: int, metric: str):
        self.metric = metric
        self.progress = None
        if console.is_terminal:
            self.progress = Progress(TextColumn("[bold]search[/bold] {task.fields[stage]}"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("best {task.fields[best]}"), TimeElapsedColumn(),
                                     TextColumn("left"), TimeRemainingColumn(), console=console, transient=True)
            self.task = self.progress.add_task("search", total=total, completed=done, stage="", best="–")
            self.progress.start()

    def update(self, stage: str, done: int, best: float | None) -> None:
        if self.progress is not None:
            shown = f"{self.metric} {best:.4f}" if best is not None else "–"
            self.progress.update(self.task, completed=done, stage=stage, best=shown)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
