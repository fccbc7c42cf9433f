"""The command-line fuzz: every leaf key of the composed config, wrong values for it, and how to
try one case, in-process (the check train.py runs before Hydra starts) or as a real run."""

import io
import os
import resource
import signal
import string
import subprocess
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st
from omegaconf import DictConfig, ListConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SWEEP = ("-m", "hparams_search=coarse_to_fine")
AUTOPILOT = ("-m", "hparams_search=autopilot")
SWEEPS = (SWEEP, AUTOPILOT)  # their keys: hydra.sweeper.*
# what an option needs besides its name to compose into a runnable config; the upper-case
# words are filled in with real folders by `fill`
NEEDS = {
    "data=fddb": ("data.root=FDDB_ROOT",),
    "data=folder": ("data.root=FOLDER_ROOT",),
    "data=mnist": ("paths.data_dir=DATA_DIR",),
    "data=cifar10": ("paths.data_dir=DATA_DIR",),
    "data=cifar100": ("paths.data_dir=DATA_DIR",),
    "model=custom": ("model._target_=babysit.models.LeNet5",),
}
NOT_FUZZED = ("hydra", "paths")  # Hydra's own groups; paths.* keys are fuzzed in the default context
MEMORY_LIMIT = 10 * 2**30  # address space of a real run: a huge buffer fails at once instead of filling memory


@dataclass(frozen=True)
class Key:
    name: str  # dotted, e.g. optimizer.momentum
    context: tuple[str, ...]  # the command line that makes the key exist, e.g. ("optimizer=sgd",)
    default: object  # its value there (an interpolation stays a string)


def group_options() -> dict[str, list[str]]:
    """The groups of conf/train.yaml's defaults list, each with its options (default first)."""
    defaults = OmegaConf.load(CONF / "train.yaml").defaults
    out = {}
    for entry in defaults:
        if not isinstance(entry, DictConfig):
            continue
        (group, default), = entry.items()
        if group in NOT_FUZZED or group in ("experiment", "hparams_search"):
            continue
        options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
        out[group] = sorted(options, key=lambda o: o != default)
    return out


def contexts() -> list[tuple[str, ...]]:
    """One command line per group option (the defaults first), then the searches."""
    out = [()]
    for group, options in group_options().items():
        out += [(f"{group}={o}", *NEEDS.get(f"{group}={o}", ())) for o in options[1:]]
    return out + list(SWEEPS)


def _leaves(node, prefix: str):
    if isinstance(node, DictConfig) and not node._is_none() and not node._is_interpolation():
        for k in node.keys():
            yield from _leaves(node._get_node(k), f"{prefix}.{k}" if prefix else str(k))
    elif (isinstance(node, ListConfig) and not node._is_none() and not node._is_interpolation()
          and any(isinstance(node._get_node(i), DictConfig) for i in range(len(node)))):
        for i in range(len(node)):
            yield from _leaves(node._get_node(i), f"{prefix}.{i}")
    else:
        value = node._value() if hasattr(node, "_value") else node
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value)
        yield prefix, value


def keys_of(context: tuple[str, ...], folders: "Folders") -> list[Key]:
    """The leaf keys of the config `python train.py <context>` composes: hydra.sweeper.* for a
    search, every other key (Hydra's own left out) otherwise."""
    from babysit.cli import parse_overrides
    from babysit.compose import composed

    overrides = parse_overrides([folders.fill(o) for o in context if not o.startswith("-")])
    with composed(overrides, CONF) as cfg:
        search = context in SWEEPS
        tree = _leaves(cfg.hydra.sweeper, "hydra.sweeper") if search else _leaves(cfg, "")
        return [Key(name, context, value) for name, value in tree if search or not name.startswith("hydra.")]


def leaf_keys(folders: "Folders") -> list[Key]:
    """Every leaf key over every option of every group and the searches' hydra.sweeper.*, each
    with the first context that has it."""
    keys: dict[str, Key] = {}
    for context in contexts():
        for key in keys_of(context, folders):
            keys.setdefault(key.name, key)
    return sorted(keys.values(), key=lambda k: k.name)


# ---- wrong values, as typed on a command line --------------------------------------------------

WORDS = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8).filter(
    lambda w: w.lower() not in ("true", "false", "null", "nan", "inf", "none"))
WRONG_TYPE = {
    "number": st.one_of(WORDS, st.sampled_from(["true", "[1,2]", "{a:1}"])),
    "bool": st.one_of(WORDS, st.sampled_from(["2", "0.5", "[]", "{a:1}"])),
    "str": st.one_of(WORDS, st.sampled_from(["0", "-1", "1.5", "true", "[a,b]", "{a:1}"])),
    "list": st.one_of(WORDS, st.sampled_from(["5", "{a:1}", "[]", "[-1]", "[0]", "[nan]", "[abc]", "[1000000000]"])),
}
KINDS = {
    "negative": st.one_of(st.just("-1"), st.integers(-10**9, -1).map(str), st.floats(-1e9, -1e-9).map(repr)),
    "zero": st.sampled_from(["0", "0.0"]),
    # huge enough that a buffer of this many elements is refused at once, never allocated
    "huge": st.sampled_from(["1000000000", str(2**63), str(10**30), "1e300"]),
    "non-finite": st.sampled_from(["nan", "inf", "-inf"]),
    "empty string": st.just("''"),
    "null": st.just("null"),
    "missing path": st.sampled_from(["WORK/no/such/folder", "WORK/no_such_file.ckpt"]),
    "bad interpolation": st.just("${no.such.key}"),
}
NUMBERS = ("negative", "zero", "huge", "non-finite")


def value_kinds(default) -> dict[str, st.SearchStrategy]:
    """Kinds of wrong value for a key whose value is `default`, each a strategy of command-line
    text: the wrong type for it, and the numbers, strings and paths that break programs."""
    if isinstance(default, bool):
        wrong, others = WRONG_TYPE["bool"], NUMBERS
    elif isinstance(default, (int, float)):
        wrong, others = WRONG_TYPE["number"], NUMBERS
    elif isinstance(default, list):
        wrong, others = WRONG_TYPE["list"], NUMBERS
    elif isinstance(default, str) and not default.startswith("${"):
        wrong, others = WRONG_TYPE["str"], ("missing path", "huge", "negative")
    else:  # null, or an interpolation: anything
        wrong, others = st.one_of(*WRONG_TYPE.values()), (*NUMBERS, "missing path")
    kinds = {"wrong type": wrong} | {k: KINDS[k] for k in others}
    return kinds | {k: KINDS[k] for k in ("empty string", "null", "bad interpolation")}


def wrong_values(default) -> st.SearchStrategy:
    """(kind, text) pairs of every kind for `default`."""
    return st.one_of(*(s.map(lambda text, kind=kind: (kind, text)) for kind, s in value_kinds(default).items()))


# ---- trying one case ---------------------------------------------------------------------------

@dataclass
class Folders:
    """Where a case reads its data and writes its runs."""

    work: Path
    fddb: Path
    folder: Path
    data: Path

    @classmethod
    def empty(cls, work: Path) -> "Folders":
        """Folders that exist and hold nothing: enough to check a command line."""
        for name in ("fddb", "patches", "data"):
            (work / name).mkdir(parents=True, exist_ok=True)
        return cls(work, work / "fddb", work / "patches", work / "data")

    @classmethod
    def make(cls, work: Path) -> "Folders":
        """Folders with small MNIST, CIFAR, FDDB and image-folder data: enough for real runs."""
        from tests.formats import write_cifar, write_fddb, write_folder, write_mnist

        data = work / "data"
        write_mnist(data)
        write_cifar(data)
        write_cifar(data, per_batch=500, classes=100)  # enough of each class to split
        return cls(work, write_fddb(work / "fddb", images_per_fold=1), write_folder(work / "patches"), data)

    def fill(self, text: str) -> str:
        for word, path in (("FDDB_ROOT", self.fddb), ("FOLDER_ROOT", self.folder), ("DATA_DIR", self.data),
                           ("WORK", self.work)):
            text = text.replace(word, str(path))
        return text


def command_line(key: Key, value: str, folders: Folders) -> list[str]:
    return [folders.fill(o) for o in (*key.context, f"{key.name}={value}")]


@dataclass
class Outcome:
    code: int | str  # the exit code, or "traceback"
    stderr: str
    timed_out: bool = False

    def problem(self, key: str) -> str | None:
        """None when the outcome is a success or one clear line about `key`; else what is wrong."""
        if self.timed_out:
            return None  # still running at the limit: a long run is a run
        err = self.stderr.strip()
        if "Traceback" in err or "HYDRA_FULL_ERROR" in err or self.code == "traceback":
            return "a traceback"
        if self.code == 0:
            return None
        if self.code != 2:
            return f"exit code {self.code}"
        if len(err.splitlines()) != 1:
            return f"{len(err.splitlines())} lines on stderr"
        if not err.startswith("error: ") or key not in err:
            return "the line does not name the key"
        return None


def check_in_process(argv: list[str]) -> Outcome:
    """What train.py does with `argv` before Hydra starts the job: an exit code and stderr."""
    from babysit.cli import check_command_line

    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        try:
            check_command_line(argv, CONF)
            code = 0
        except SystemExit as e:
            code = e.code
        except Exception:  # noqa: BLE001 - a traceback is an outcome to report
            code, _ = "traceback", err.write(traceback.format_exc())
    return Outcome(code, err.getvalue())


def budget(key: Key, out: Path) -> list[str]:
    """Overrides that keep a real run short and write it to `out` (the case's own override comes
    after them and wins)."""
    if key.context in SWEEPS:  # given ranges and epochs: no preflight job measures them
        return ["hydra.sweeper.stages=[{name:coarse,trials:2,epochs:1},{name:fine,trials:1,epochs:1}]",
                "hydra.sweeper.pipeline.preflight=false", "hydra.sweeper.pipeline.final_epochs=1",
                "hydra.sweeper.params.optimizer.lr.low=1e-4", "hydra.sweeper.params.optimizer.lr.high=1e-2",
                "hydra.sweeper.params.reg.l2.low=1e-5", "hydra.sweeper.params.reg.l2.high=1e-3",
                f"hydra.sweep.dir={out}", "babysit.report=false"]
    out = [f"hydra.run.dir={out}", "trainer.max_epochs=1", "babysit.report=false"]
    if key.name.startswith("babysit."):  # the checks run, on a small model and a short overfit
        return out + ["model=fc3", "babysit.overfit.epochs=40", "babysit.range_test.steps=30"]
    return out + ["babysit.preflight=false"]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_for_real(argv: list[str], key: Key, folders: Folders, out: Path, repo: Path = ROOT,
                 timeout: float = 120, env: dict | None = None) -> Outcome:
    """`python train.py <budget> <argv>` in its own process, run from `folders.work`; a run still
    going at `timeout` is stopped with everything it started."""
    multirun = [a for a in argv if a == "-m"]
    rest = [a for a in argv if a != "-m"]
    cmd = [sys.executable, str(repo / "train.py"), *multirun, *budget(key, out), *rest]
    proc = subprocess.Popen(cmd, cwd=folders.work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MPLBACKEND": "Agg", **(env or {})}, start_new_session=True,
                            preexec_fn=_limit_memory)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        return Outcome("timeout", stderr, timed_out=True)
    return Outcome(proc.returncode, stderr)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def earlier_run(work: Path) -> Path:
    """A finished run's directory, as an earlier `python train.py` leaves it."""
    run = work / "outputs" / "runs" / "2026-01-01" / "00-00-00-000000"
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    (run / "summary.json").write_text('{"status": "finished"}\n')
    (run / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    (run / "report.md").write_text("# run\n")
    return run
