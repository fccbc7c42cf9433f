"""Search ranges in log or linear space, and how a stage's results shape the next range."""

import math
from dataclasses import dataclass, replace

import optuna.distributions as od

from babysit.errors import BabysitError

TYPES = ("log", "uniform", "int", "choice")


@dataclass(frozen=True)
class Param:
    name: str  # the config key, e.g. optimizer.lr
    type: str  # log | uniform | int | choice
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    @classmethod
    def from_config(cls, name: str, spec: dict) -> "Param":
        kind = spec.get("type")
        if kind not in TYPES:
            raise BabysitError(f"search param {name}: type={kind!r} must be one of {', '.join(TYPES)}")
        if kind == "choice":
            choices = tuple(spec.get("choices") or ())
            if len(choices) < 1:
                raise BabysitError(f"search param {name}: give choices: [a, b, …]")
            return cls(name, kind, choices=choices)
        low, high = spec.get("low"), spec.get("high")
        if not isinstance(low, (int, float)) or not isinstance(high, (int, float)) or not low < high:
            raise BabysitError(f"search param {name}: need numbers low < high, got low={low!r} high={high!r}")
        if kind == "log" and low <= 0:
            raise BabysitError(f"search param {name}: a log range needs low > 0, got {low}")
        return cls(name, kind, float(low), float(high))

    def distribution(self) -> od.BaseDistribution:
        if self.type == "choice":
            return od.CategoricalDistribution(self.choices)
        if self.type == "int":
            return od.IntDistribution(int(round(self.low)), int(round(self.high)))
        return od.FloatDistribution(self.low, self.high, log=self.type == "log")

    def _to_axis(self, v: float) -> float:
        return math.log10(v) if self.type == "log" else float(v)

    def _from_axis(self, a: float) -> float:
        return 10**a if self.type == "log" else a

    def position(self, value: float) -> float:
        """Where `value` lies in the range: 0 at low, 1 at high (in log space for log)."""
        lo, hi = self._to_axis(self.low), self._to_axis(self.high)
        return (self._to_axis(value) - lo) / (hi - lo)

    def as_dict(self) -> dict:
        if self.type == "choice":
            return {"type": self.type, "choices": list(self.choices)}
        return {"type": self.type, "low": self.low, "high": self.high}

    def describe(self) -> str:
        if self.type == "choice":
            return f"{self.name} ∈ {list(self.choices)}"
        if self.type == "log":
            return f"{self.name} = 10**U({math.log10(self.low):.2f}, {math.log10(self.high):.2f})"
        return f"{self.name} ∈ [{self.low:g}, {self.high:g}]"


@dataclass
class Narrowed:
    param: Param
    warning: str | None = None


def narrow(param: Param, best: float, top: list[float], shrink: float, edge: float) -> Narrowed:
    """The next stage's range: around the top trials' values, at least `shrink` × the old width,
    centred on the best value; when the best lies within `edge` (fraction of the range) of an
    edge, warn and recentre on it rather than clipping — the range moves past the old edge."""
    if param.type == "choice":
        return Narrowed(param)
    lo, hi = param._to_axis(param.low), param._to_axis(param.high)
    width = hi - lo
    pos = param.position(best)
    axis = [param._to_axis(v) for v in top] or [param._to_axis(best)]
    new_lo, new_hi = min(axis), max(axis)
    half = max((new_hi - new_lo) / 2, shrink * width / 2)
    centre = param._to_axis(best)
    warning = None
    if pos <= edge or pos >= 1 - edge:
        side = "lower" if pos <= edge else "upper"
        warning = (f"best {param.name} = {best:.3g} lies near the {side} edge of [{param.low:.3g}, {param.high:.3g}] "
                   f"({pos:.0%} of the {'log-' if param.type == 'log' else ''}range): the next range is recentred "
                   f"on it and reaches past that edge")
    else:
        centre = min(max(centre, lo + half), hi - half)  # inside: stay within the old range
    low, high = param._from_axis(centre - half), param._from_axis(centre + half)
    if param.type == "int":
        low, high = math.floor(low), math.ceil(high)
    return Narrowed(replace(param, low=low, high=high), warning)
