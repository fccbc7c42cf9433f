"""A fuzz of the command line: every leaf key of the composed config (every option of every group,
and hydra.sweeper.* of the searches) gets wrong values of every kind — the wrong
type, negative, zero, huge, NaN/inf, an empty string, null, a path that does not exist, a broken
interpolation. Each case goes through what train.py runs before Hydra starts; the outcome must be
a config that passes the checks, or one line on stderr that names the key, exit code 2, no
traceback — and no earlier run directory touched.

    BABYSIT_FUZZ_EXAMPLES=50 pytest tests/test_fuzz_cli.py     # more cases per key (default 2)
    BABYSIT_FUZZ_RUN=1 pytest tests/test_fuzz_cli.py           # and run every accepted case for real

Checking is what runs in the default test: a case that passes the checks would need a real run
(seconds each, minutes for a huge epoch count) to show that it trains; BABYSIT_FUZZ_RUN=1 does
that (each in its own process, stopped after 120 s: still running then counts as running), and
test_the_in_process_check_is_what_train_py_does shows on a few cases that the in-process outcome
is the real one."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_cases import (
    SWEEP,
    SWEEPS,
    Folders,
    check_in_process,
    command_line,
    contexts,
    earlier_run,
    keys_of,
    run_for_real,
    snapshot,
    wrong_values,
)

EXAMPLES = int(os.environ.get("BABYSIT_FUZZ_EXAMPLES", "2"))
RUN = os.environ.get("BABYSIT_FUZZ_RUN") == "1"
LOG = os.environ.get("BABYSIT_FUZZ_LOG")  # a JSON-lines file every case is appended to


@pytest.fixture
def work(tmp_path, monkeypatch):
    """An empty working directory holding one earlier run; the cases run from it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _new_keys(context, folders):
    """The keys `context` adds to the default config (all of them for the defaults, the sweeper's for the
    first search, those another search sets otherwise)."""
    keys = keys_of(context, folders)
    if context in ((), SWEEP):
        return keys
    if context in SWEEPS:
        first = {(k.name, repr(k.default)) for k in keys_of(SWEEP, folders)}
        return [k for k in keys if (k.name, repr(k.default)) not in first]
    default = {k.name for k in keys_of((), folders)}
    group = context[0].split("=")[0]
    return [k for k in keys if k.name not in default or k.name.split(".")[0] == group]


@pytest.mark.parametrize("context", contexts(), ids=lambda c: " ".join(c) or "defaults")
def test_every_key_gets_one_clear_line_or_passes(work, context):
    folders = Folders.make(work / "in") if RUN else Folders.empty(work / "in")
    earlier = earlier_run(work)
    before, entries = snapshot(earlier), set(work.iterdir())
    keys = _new_keys(context, folders)
    assert keys, f"{context} adds no key"
    tried = []

    @settings(max_examples=EXAMPLES, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def every_key(data):  # each example: one wrong value for every key
        for key in keys:
            kind, value = data.draw(wrong_values(key.default), label=key.name)
            argv = command_line(key, value, folders)
            outcome = check_in_process(argv)
            problem = outcome.problem(key.name)
            assert problem is None, f"python train.py {' '.join(argv)}: {problem}\n{outcome.stderr}"
            if RUN and outcome.code == 0:
                real = run_for_real(argv, key, folders, work / "runs" / str(len(tried)))
                problem = real.problem(key.name)
                assert problem is None, f"python train.py {' '.join(argv)} (run): {problem}\n{real.stderr[-3000:]}"
            tried.append({"key": key.name, "kind": kind, "value": value, "code": outcome.code})

    every_key()
    assert snapshot(earlier) == before
    if not RUN:
        assert set(work.iterdir()) == entries, "checking a command line wrote something"
    if LOG:
        with open(LOG, "a") as f:
            f.writelines(json.dumps({"context": list(context), **t}) + "\n" for t in tried)


FAITHFUL = [  # (context, key, value): what the in-process check says is what python train.py does
    ((), "seed", "-1"),
    ((), "optimizer.lr", "nan"),
    (("model=fc3",), "model.hidden", "[-1]"),
    (("data=fddb", "data.root=FDDB_ROOT"), "data.source.iou_max", "0"),
    ((), "data.split.val", "${no.such.key}"),
    (SWEEP, "hydra.sweeper.top_k", "0"),
    ((), "reg.l1", "0"),  # accepted: the run trains
]


@pytest.mark.parametrize(("context", "name", "value"), FAITHFUL, ids=[f"{n}={v}" for _, n, v in FAITHFUL])
def test_the_in_process_check_is_what_train_py_does(tmp_path, context, name, value):
    from tests.fuzz_cases import Key

    folders = Folders.make(tmp_path / "in")
    earlier = earlier_run(tmp_path)
    before = snapshot(earlier)
    key = Key(name, context, None)
    argv = command_line(key, value, folders)
    inside = check_in_process(argv)
    real = run_for_real(argv, key, folders, tmp_path / "run", timeout=300)
    assert inside.problem(name) is None and real.problem(name) is None, (inside, real)
    assert real.code == inside.code
    if inside.code == 2:
        assert real.stderr == inside.stderr
        assert not (tmp_path / "run").exists()
    else:
        assert '"status": "finished"' in (tmp_path / "run" / "summary.json").read_text()
    assert snapshot(earlier) == before
