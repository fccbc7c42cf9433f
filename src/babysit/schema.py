"""The values every setting accepts, declared in conf/schema.yaml (its header explains the fields),
checked on the composed config before anything is built. The first value outside them becomes one
BabysitError naming the key, the value and a valid example."""

import importlib
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from babysit.errors import BabysitError

SCHEMA_FILE = "schema.yaml"
NUMBER_TYPES = ("int", "float")
SPEC_FIELDS = {"type", "nullable", "ge", "gt", "le", "lt", "choices", "also", "not", "items", "length", "min_length",
               "ordered", "same_as", "check", "internal", "say", "pattern", "made_by", "e.g."}
SEARCH_TYPES = ("log", "uniform", "int", "choice")
PREFLIGHT = "hydra.sweeper.pipeline.preflight"  # false: the search measures nothing before its trials


class Leaf:
    """A key of the config; its value is resolved when first asked for (most checks stop at the
    first problem, before the interpolations further down the list)."""

    def __init__(self, key: str, parent, index, container: bool = False):
        self.key, self.parent, self.index, self.container = key, parent, index, container
        self.node = parent._get_node(index)
        self.interpolated = self.node._is_interpolation()
        self.missing = not self.interpolated and OmegaConf.is_missing(parent, index)  # ???: not set
        self._resolved = False
        self._value = None
        self.unresolved: str | None = None  # why an interpolation fails
        self.pending = False  # known only once Hydra starts the job (hydra.runtime.output_dir)

    @property
    def value(self):
        if not self._resolved:
            self._resolved = True
            try:
                value = self.parent[self.index]
                # a container's own keys are checked one by one: its shape is enough here
                self._value = OmegaConf.to_container(value, resolve=not self.container) if OmegaConf.is_config(
                    value) else value
            except MissingMandatoryValue as e:
                self.pending = str(e.full_key).startswith("hydra.")
                self.unresolved = None if self.pending else _first_line(e)
            except OmegaConfBaseException as e:
                self.unresolved = _first_line(e)
        return self._value

    def resolved(self):
        """The value with every interpolation inside it resolved (for a check function)."""
        if not self.container:
            return self.value
        try:
            return OmegaConf.to_container(self.parent[self.index], resolve=True)
        except OmegaConfBaseException:
            return self.value


class Schema:
    def __init__(self, entries: dict):
        self.exact = {k: v for k, v in entries.items() if "*" not in k}
        self.patterns = [(re.compile(_pattern(k)), v) for k, v in entries.items() if "*" in k]

    @classmethod
    def load(cls, conf_dir: str | Path) -> "Schema":
        return _load(str(Path(conf_dir).resolve()))

    def entry(self, key: str):
        """The raw entry of `key`: its own, else the first pattern that matches it; None without one."""
        if key in self.exact:
            return self.exact[key]
        return next((v for p, v in self.patterns if p.fullmatch(key)), None)

    def spec(self, key: str, choices: dict) -> dict | None:
        """The spec that applies to `key` under the group `choices`; None when it has no entry,
        {} when its entry has no spec for these choices (then neither it nor its keys are checked)."""
        entry, seen = self.entry(key), {key}
        while isinstance(entry, str):  # the same spec as another key
            if entry in seen:
                raise ValueError(f"{SCHEMA_FILE}: {key} refers to itself through {entry}")
            seen.add(entry)
            entry = self.entry(entry)
        if entry is None or _is_spec(entry):
            return entry
        for condition, spec in entry.items():
            if condition == "*" or _holds(condition, choices):
                return self.spec_of(spec, choices)
        return {}

    def spec_of(self, spec, choices: dict | None = None):
        return self.spec(spec, choices or {}) if isinstance(spec, str) else spec


@lru_cache(maxsize=4)
def _load(conf_dir: str) -> Schema:
    return Schema(yaml.safe_load((Path(conf_dir) / SCHEMA_FILE).read_text()))


def _pattern(key: str) -> str:
    parts = [r"[^.]+(\.[^.]+)*" if p == "**" else "[^.]+" if p == "*" else re.escape(p) for p in key.split(".")]
    return r"\.".join(parts)


def _is_spec(entry: dict) -> bool:
    return not any("=" in str(k) or k == "*" for k in entry)


def _holds(condition: str, choices: dict) -> bool:
    group, _, option = condition.partition("=")
    return str(choices.get(group)) == option


# ---- walking the config ------------------------------------------------------------------------

def leaves(cfg: DictConfig) -> Iterator[Leaf]:
    """Every key of `cfg` (outside Hydra's own node, but hydra.sweeper), containers first."""
    for key in cfg.keys():
        if key == "hydra":
            if "sweeper" in cfg.hydra:
                yield from _walk(cfg.hydra, "sweeper", "hydra.sweeper")
            continue
        yield from _walk(cfg, key, str(key))


def _walk(parent, key, name: str) -> Iterator[Leaf]:
    node = parent._get_node(key)
    plain = not node._is_interpolation() and not node._is_none() and not node._is_missing()
    if plain and isinstance(node, DictConfig):
        yield Leaf(name, parent, key, container=True)
        for k in node.keys():
            yield from _walk(node, k, f"{name}.{k}")
    elif plain and isinstance(node, ListConfig) and any(isinstance(node._get_node(i), DictConfig)
                                                        for i in range(len(node))):
        yield Leaf(name, parent, key, container=True)
        for i in range(len(node)):
            yield from _walk(node, i, f"{name}.{i}")
    else:
        yield Leaf(name, parent, key)


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


# ---- checking ----------------------------------------------------------------------------------

def check_config(cfg: DictConfig, conf_dir: str | Path, choices: dict | None = None,
                 typed: list[str] = ()) -> DictConfig:
    """Return `cfg`, or raise a BabysitError for the first value outside conf/schema.yaml. `choices`: the group
    options chosen (Hydra's runtime.choices); `typed`: the keys set on the command line, checked
    first and in their order, then the config's own values, then interpolated ones. What needs an
    import (a _target_, a check function) is checked once everything else has passed."""
    schema = Schema.load(conf_dir)
    choices = choices if choices is not None else _choices(cfg)
    checked = []
    skipped: list[str] = []
    for leaf in leaves(cfg):
        if any(leaf.key.startswith(s + ".") for s in skipped):
            continue
        spec = schema.spec(leaf.key, choices)
        if spec == {}:
            skipped.append(leaf.key)
        elif spec is not None:
            checked.append((leaf, spec))
    order = {k: i for i, k in enumerate(typed)}
    checked.sort(key=lambda c: (order.get(c[0].key, len(order)), c[0].container, c[0].interpolated))
    context = Context(schema, Lookup(cfg), choices, set(typed))
    for late in (False, True):
        for leaf, spec in checked:
            problem = context.problem(leaf, spec, late)
            if problem:
                raise BabysitError(problem)
    return cfg


def _choices(cfg: DictConfig) -> dict:
    if "hydra" in cfg:
        return OmegaConf.to_container(cfg.hydra.runtime.choices)
    from hydra.core.hydra_config import HydraConfig

    return dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}


class Lookup:
    """Values of other keys of the config, for bounds and same_as."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg

    def value(self, key: str):
        try:
            return _plain(OmegaConf.select(self.cfg, key, throw_on_missing=True, throw_on_resolution_failure=True))
        except OmegaConfBaseException:
            return None

    def exists(self, key: str) -> bool:
        try:
            return OmegaConf.select(self.cfg, key, default=_ABSENT, throw_on_missing=False) is not _ABSENT
        except OmegaConfBaseException:
            return False


_ABSENT = object()


@dataclass
class Context:
    schema: Schema
    config: Lookup
    choices: dict
    typed: set

    def problem(self, leaf: Leaf, spec: dict, late: bool) -> str | None:
        key = leaf.key
        example = f"e.g. {key}={show_text(spec.get('e.g.'))}"
        if not late:
            if leaf.missing:
                return f"{key} is not set: add {key}=… to the command, {example}"
            value = leaf.value
            if leaf.pending:
                return None
            if leaf.unresolved:
                return f"{key}={leaf.node._value()} cannot be resolved ({leaf.unresolved}): give a value, {example}"
            if spec.get("internal") and key in self.typed and value is not None:
                return f"{key} is set by babysit for each trial of a search: leave it out of the command"
            wrong = self.wrong(spec, value)
            source = f" (from {leaf.node._value()})" if leaf.interpolated else ""  # what to change
            return f"{key}={show(value, spec)}{source} {wrong}, {example}" if wrong else None
        if leaf.missing or leaf.pending or leaf.unresolved or leaf.value is None:
            return None
        if spec.get("type") == "target":
            problem = importable(leaf.value)
            if problem:
                return f"{key}={show(leaf.value)} cannot be imported ({problem}): give a class or function, {example}"
        if spec.get("check"):
            try:
                _function(spec["check"])(leaf.resolved())
            except BabysitError as e:
                return str(e)
        if spec.get("type") == "search_space":
            return self.search_space(key, leaf.resolved())
        return None

    def wrong(self, spec: dict, value) -> str | None:
        """What is wrong with `value` for `spec`, as the end of a sentence that starts with
        `key=value` ('must be …'); None when it fits."""
        if "same_as" in spec:
            return self.same_as(spec, value)
        if value is None:
            return self.null(spec)
        if any(_same(value, a) for a in spec.get("also", ())):
            return None
        if any(_same(value, n) for n in spec.get("not", ())):
            return f"must be {describe(spec)}"
        if "choices" in spec:
            return None if any(_same(value, c) for c in spec["choices"]) else f"must be {describe(spec)}"
        types = spec.get("type", "any")
        for kind in types if isinstance(types, list) else [types]:
            fits = self.fits(kind, spec, value)
            if fits is True:
                return None
            if isinstance(fits, str):
                return fits
        return f"must be {describe(spec)}"

    def null(self, spec: dict) -> str | None:
        """Why null does not fit `spec`; None when it does (nullable: true, or a key that is true)."""
        allowed = spec.get("nullable")
        if isinstance(allowed, str):
            if self.config.value(allowed) is True:
                return None
            return f"may be null only while {allowed}=true: {describe(spec)}"
        return None if allowed else f"must be {describe(spec)}"

    def fits(self, kind: str, spec: dict, value) -> bool | str:
        """True when `value` is a `kind` within the spec's limits; False when it is not; a
        message when it is that kind but wrong in a way of its own (a file that is not there)."""
        if kind in NUMBER_TYPES:
            if not is_number(value) or (kind == "int" and not isinstance(value, int)):
                return False
            return self.within(spec, value)
        if kind == "bool":
            return isinstance(value, bool)
        if kind in ("str", "path", "file", "dir", "target", "key"):
            if not isinstance(value, str) or (kind != "str" and not value.strip()):
                return False
            if len(value) < spec.get("min_length", 0) or not re.fullmatch(spec.get("pattern", ".*"), value, re.S):
                return False
            if kind == "file" and not Path(value).is_file():
                return "not found: give an existing file"
            made = "made_by" in spec and self.config.value(spec["made_by"]) is True
            if kind == "dir" and not Path(value).is_dir() and not made:
                fetch = f", or {spec['made_by']}=true to fetch it there" if "made_by" in spec else ""
                return f"is not a folder: give an existing folder{fetch}"
            if kind == "key" and not self.config.exists(value):
                return "is not a setting of the config: check its spelling (python train.py --cfg job lists them)"
            return True
        if kind == "list":
            if not isinstance(value, list) or len(value) < spec.get("min_length", 0):
                return False
            if "length" in spec and len(value) != spec["length"]:
                return False
            item = self.schema.spec_of(spec.get("items") or {})
            if any(self.wrong(item, v) for v in value):
                return False
            return not spec.get("ordered") or all(a <= b for a, b in zip(value, value[1:], strict=False))
        if kind in ("dict", "search_space"):
            return isinstance(value, dict)
        return kind == "any"

    def within(self, spec: dict, value) -> bool:
        for bound, ok in (("ge", lambda v, b: v >= b), ("gt", lambda v, b: v > b),
                          ("le", lambda v, b: v <= b), ("lt", lambda v, b: v < b)):
            limit = self.bound(spec.get(bound))
            if limit is not None and not ok(value, limit):
                return False
        return True

    def bound(self, limit):
        """A bound's number: itself, or the value of the key it names (None while that is no number)."""
        if isinstance(limit, str):
            limit = self.config.value(limit)
        return limit if is_number(limit) else None

    def same_as(self, spec: dict, value) -> str | None:
        others = spec["same_as"]
        wanted = [self.config.value(k) for k in others] if isinstance(others, list) else self.config.value(others)
        if _plain(value) == wanted:
            return None
        names = ", ".join(others) if isinstance(others, list) else others
        return f"must follow {names} ({show(wanted)}): leave it out and set {names} instead"

    def search_space(self, key: str, params: dict) -> str | None:
        """hydra.sweeper.params: nested config keys → {type, low, high} or {type: choice, choices};
        each range may hold only values its key accepts."""
        for name, spec in _ranges(params):
            where = f"{key}.{name}"
            if not isinstance(spec, dict) or "type" not in spec:
                return f"{where}={show(spec)} must be a range, e.g. {where}={{type:log,low:1e-6,high:1e-3}}"
            if not self.config.exists(name):
                return f"{where}: {name} is not a setting: check its spelling (python train.py --cfg job lists them)"
            target = self.schema.spec(name, self.choices) or {}
            kind = spec["type"]
            if kind not in SEARCH_TYPES:
                return f"{where}.type={show(kind)} must be one of {', '.join(SEARCH_TYPES)}, e.g. {where}.type=log"
            if kind == "choice":
                ends = [(f"{where}.choices={show(c)}", c) for c in spec.get("choices") or []]
                if not ends:
                    return f"{where}.choices must list the values to try, e.g. {where}.choices=[relu,tanh]"
            else:
                ends = self.bounds(where, name, kind, target, spec)
                if isinstance(ends, str):
                    return ends
            for given, end in ends:
                wrong = self.wrong(target, end)
                if wrong:
                    return f"{given} would set {name}={show(end)}, which {wrong}"
        return None

    def bounds(self, where: str, name: str, kind: str, target: dict, spec: dict) -> list | str:
        """(`key=value` as given, value) for each end of a log/uniform/int range, each of which must be
        a value of `name`; or what is wrong with the range. low/high null: measured by the preflight,
        else the fallback range."""
        low, high = spec.get("low"), spec.get("high")
        ends = [(f"{where}.{f}={show(v)}", v, f == "low") for f, v in (("low", low), ("high", high)) if v is not None]
        if len(ends) == 2 and not (is_number(low) and is_number(high) and low < high):
            return f"{where}.low={show(low)} must be below {where}.high={show(high)}"
        if len(ends) < 2:
            problem = self.open_range(where, name)
            if problem:
                return problem
            if spec.get("fallback"):
                lo, hi = spec["fallback"]
                given = f"{where}.fallback={show([lo, hi])}"
                if not (is_number(lo) and is_number(hi) and lo < hi):
                    return f"{given} must be [low, high] with low below high, e.g. {where}.fallback=[1e-6,1e-3]"
                ends += [(given, lo, True), (given, hi, False)]
        if kind != "int" and target.get("type") == "int":
            return f"{where}.type={kind} draws fractions, but {name} takes whole numbers: use {where}.type=int"
        for given, end, _ in ends:
            if kind == "log" and is_number(end) and end <= 0:
                return f"{given} must be above 0 for a log range, e.g. {where}.low=1e-6"
        if kind == "int":  # the whole numbers a trial can draw
            return [(g, math.floor(v) if is_low else math.ceil(v)) for g, v, is_low in ends]
        return [(g, v) for g, v, _ in ends]

    def open_range(self, where: str, name: str) -> str | None:
        """A range without low or high: only the preflight can measure it, and only for some keys."""
        from babysit.search.plan import LR, REG

        if name not in (LR, REG):
            return (f"{where} needs low and high (the preflight measures only {LR} and {REG}), "
                    f"e.g. {where}.low=1e-6 {where}.high=1e-3")
        if self.config.value(PREFLIGHT) is False:
            return (f"{where}.low and .high are measured by the preflight, which {PREFLIGHT}=false turns off: "
                    f"give both, e.g. {where}.low=1e-6 {where}.high=1e-3")
        return None


def _ranges(params: dict, prefix: str = "") -> Iterator[tuple[str, object]]:
    for k, v in params.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and "type" not in v and v:
            yield from _ranges(v, name)
        else:
            yield name, v


def _same(a, b) -> bool:
    """Equal and of the same kind: true is not 1, 1.0 is not the channel count 1."""
    return type(a) is type(b) and a == b


def _plain(value):
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@cache
def _function(name: str) -> Callable:
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def importable(name) -> str | None:
    """Why `name` does not name a class or function one can import; None when it does."""
    if not isinstance(name, str) or not name.strip():
        return "not a dotted name"
    from hydra._internal.utils import _locate  # hydra.utils.get_object would log every failure

    try:
        obj = _locate(name)
    except Exception as e:  # noqa: BLE001 - any failure to import means the name is wrong
        return _first_line(e)
    return None if callable(obj) else f"{type(obj).__name__} is not callable"


# ---- words -------------------------------------------------------------------------------------

def show(value, spec: dict | None = None) -> str:
    """A value as the message shows it: strings quoted (paths not), null, true/false, numbers as
    Python writes them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value if (spec or {}).get("type") in ("file", "dir") else repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def show_text(example) -> str:
    """An example as typed on the command line."""
    if example is None:
        return "null"
    if isinstance(example, bool):
        return str(example).lower()
    return str(example)


def describe(spec: dict) -> str:
    """The values a spec allows, in words: 'a number above 0', 'one of max, avg', …"""
    if "say" in spec:
        return spec["say"]
    if "choices" in spec:
        text = "one of " + ", ".join(show_text(c) for c in spec["choices"])
    else:
        types = spec.get("type", "any")
        text = " or ".join(_type_words(t, spec) for t in (types if isinstance(types, list) else [types]))
    extra = [show_text(a) for a in spec.get("also", ())] + (["null"] if spec.get("nullable") else [])
    return text + "".join(f", or {e}" for e in extra)


PLURALS = {"a whole number": "whole numbers", "a number": "numbers", "a string": "strings",
           "a non-empty string": "non-empty strings", "true or false": "true or false"}


def _type_words(kind: str, spec: dict) -> str:
    if kind in NUMBER_TYPES:
        return ("a whole number" if kind == "int" else "a number") + _bounds_words(spec)
    if kind == "list":
        words = "a non-empty list" if spec.get("min_length") else "a list"
        words += f" of {spec['length']}" if "length" in spec else ""
        item = spec.get("items")
        if isinstance(item, dict):
            described = describe(item)
            for one, many in PLURALS.items():
                if described.startswith(one):
                    described = many + described[len(one):]
                    break
            words += (" " if "length" in spec else " of ") + described
        return words + (", low ≤ high" if spec.get("ordered") else "")
    return {"bool": "true or false", "str": "a non-empty string" if spec.get("min_length") else "a string",
            "path": "a path", "file": "an existing file", "dir": "an existing folder",
            "target": "an importable class or function", "key": "a config key", "dict": "a group of settings",
            "search_space": "search ranges", "any": "a value"}.get(kind, kind)


def _bounds_words(spec: dict) -> str:
    lo = ("[", spec["ge"]) if "ge" in spec else ("(", spec["gt"]) if "gt" in spec else None
    hi = ("]", spec["le"]) if "le" in spec else (")", spec["lt"]) if "lt" in spec else None
    if lo and hi and not isinstance(lo[1], str) and not isinstance(hi[1], str):
        return f" in {lo[0]}{lo[1]}, {hi[1]}{hi[0]}"
    words = []
    if lo:
        words.append(f"≥ {lo[1]}" if lo[0] == "[" else f"above {lo[1]}")
    if hi:
        words.append(f"≤ {hi[1]}" if hi[0] == "]" else f"below {hi[1]}")
    return " " + " and ".join(words) if words else ""
