"""Verdicts: what a check or monitor concluded, the numbers behind it, and what to do."""

from dataclasses import asdict, dataclass, field

from rich.console import Console
from rich.markup import escape

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
INFO = "INFO"  # a reading that informs; nothing is wrong
COLOURS = {PASS: "green", INFO: "cyan", WARN: "yellow", FAIL: "bold red"}
SEVERITY = {INFO: 0, PASS: 0, WARN: 1, FAIL: 2}

console = Console(highlight=False, soft_wrap=True)


@dataclass
class Verdict:
    check: str  # e.g. "initial_loss", "update_ratio"
    status: str  # PASS | INFO | WARN | FAIL
    message: str  # one line with the numbers, e.g. "initial loss 0.6934 vs ln(2) = 0.6931 (reg off)"
    advice: str = ""  # one line: what to do (WARN / FAIL), or what would help (INFO)
    numbers: dict = field(default_factory=dict)
    epoch: int | None = None  # when a monitor fired
    step: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        line = f"[{self.status}] {self.message}"
        if self.advice and self.status != PASS:
            line += f"\n       → {self.advice}"
        return line


def show(verdict: Verdict) -> None:
    """Print a verdict line, coloured by status when the terminal allows it."""
    colour = COLOURS.get(verdict.status, "white")
    line = f"[{colour}]\\[{verdict.status}][/{colour}] {escape(verdict.message)}"
    if verdict.advice and verdict.status != PASS:
        line += f"\n       → {escape(verdict.advice)}"
    console.print(line)


def worst(verdicts: list[Verdict]) -> str:
    """The most severe status among `verdicts`: PASS when there are none, or only PASS and INFO."""
    status = max((v.status for v in verdicts), key=SEVERITY.__getitem__, default=PASS)
    return PASS if status == INFO else status
