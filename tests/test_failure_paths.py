"""What a run leaves behind when it goes wrong: a model that raises mid-training, a real signal from
outside, a sweep trial that throws, an export that does not match its checkpoint, a checkpoint that
holds pickled objects."""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn as nn

from tests.cli import ROOT, one_line_error, train

# faces: 120 training patches, 16 a batch → 8 training steps an epoch
FACES = ["data=faces", "data.batch_size=16"]
RAISES = "tests.test_failure_paths.RaisesMidTraining"


class RaisesMidTraining(nn.Module):
    """A user's own network (model=custom) that trains normally until its `fail_at`-th training step
    (counted from 1) and raises there; fail_at=0 never raises."""

    def __init__(self, in_shape, num_classes, fail_at: int = 9):
        super().__init__()
        c, h, w = in_shape
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 16), nn.ReLU(), nn.Linear(16, num_classes))
        self.fail_at, self.steps = fail_at, 0

    def forward(self, x):
        if self.training and torch.is_grad_enabled():
            self.steps += 1
            if self.fail_at and self.steps >= self.fail_at:
                raise RuntimeError(f"planted failure at training step {self.steps}")
        return self.body(x)


def _touch(path: str) -> None:
    Path(path).write_text("unpickling ran code")


class RunsCodeWhenUnpickled:
    """An object whose unpickling calls a function of the file's choosing (here: writes `victim`)."""

    def __init__(self, victim: Path):
        self.victim = str(victim)

    def __reduce__(self):
        return _touch, (self.victim,)


# -- 1. a model that raises in epoch 2 -------------------------------------------------------------

@pytest.fixture(scope="module")
def failed_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    run_dir = tmp_path_factory.mktemp("failed") / "run"
    result = train(*FACES, "model=custom", f"model._target_={RAISES}", "+model.fail_at=9", "trainer.max_epochs=3",
                   "babysit.preflight=false", run_dir=run_dir)
    return result, run_dir


def test_a_model_that_raises_mid_training_fails_the_run_and_keeps_what_it_wrote(failed_run):
    result, run_dir = failed_run
    assert result.returncode not in (0, 2), result.stderr[-3000:]  # a crash, not a user error nor success
    assert "RuntimeError: planted failure at training step 9" in result.stderr
    assert "Finished epoch 1 / 3" in result.stdout and "Finished epoch 2" not in result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert summary["reason"] == "RuntimeError: planted failure at training step 9"
    assert summary["epochs_run"] == 2  # epoch 2 had started: it counts as spent
    md = (run_dir / "report.md").read_text()
    assert "**Status: failed**" in md and "The run is failed" in md
    assert (run_dir / "report.html").is_file()
    # what epoch 1 wrote stays: its metrics rows and its checkpoints
    metrics = pd.read_csv(run_dir / "metrics.csv")
    first = metrics[metrics["epoch"] == 0]
    assert first["train/loss"].notna().sum() == 1 and first["val/acc"].notna().sum() == 1
    assert metrics["epoch"].max() == 0  # epoch 2 logged no epoch values (its first step raised)
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "checkpoints" / "best-epoch000.ckpt").is_file()
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 8


def test_the_report_of_a_failed_run_names_the_error(failed_run):
    _, run_dir = failed_run
    assert "planted failure at training step 9" in (run_dir / "report.md").read_text()


# -- 2. a real signal from outside ----------------------------------------------------------------

@pytest.mark.parametrize(("signal_name", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_from_outside_interrupts_the_run_with_a_report(tmp_path, signal_name, code):
    """tests/test_resume.py has the process signal itself from a callback, with the report off;
    here the signal comes from another process, as a scheduler's or a terminal's does, and the
    report is written."""
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "train.py", *FACES, "model=fc3", "trainer.max_epochs=500", "babysit.preflight=false",
           f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Finished epoch 2 /"):
                proc.send_signal(getattr(signal, signal_name))
                break
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    stdout = "".join(seen) + out
    assert proc.returncode == code, (proc.returncode, stdout[-2000:], err[-3000:])
    assert f"{signal_name}: stopping after this step" in stdout
    assert "Interrupted at epoch" in stdout and f"Continue with: python train.py resume={run_dir.resolve()}" in stdout
    assert "Finished:" not in stdout and "Finished epoch 500" not in stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and signal_name in summary["reason"], summary["reason"]
    assert 2 <= summary["epochs_run"] < 500
    md = (run_dir / "report.md").read_text()
    assert "**Status: interrupted**" in md and "up to that point" in md
    assert (run_dir / "report.html").is_file() and (run_dir / "figures" / "train_cost.png").is_file()
    assert pd.read_csv(run_dir / "metrics.csv")["val/acc"].notna().sum() >= 2
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] >= 2


# -- 3. a sweep trial that throws --------------------------------------------------------------------

def test_a_trial_that_raises_mid_training_fails_and_the_sweep_finishes_the_others(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "train.py", "-m", "hparams_search=coarse_to_fine", *FACES, "model=custom",
         f"model._target_={RAISES}", "+model.fail_at=0", "optimizer=sgd",
         "+hydra.sweeper.params.model.fail_at={type: choice, choices: [0, 3]}",
         "hydra.sweeper.params.optimizer.lr.low=1e-3", "hydra.sweeper.params.optimizer.lr.high=1e-1",
         "hydra.sweeper.params.reg.l2.low=1e-5", "hydra.sweeper.params.reg.l2.high=1e-3",
         "hydra.sweeper.pipeline.preflight=false", "hydra.sweeper.pruner.type=none",
         "hydra.sweeper.stages=[{name: coarse, trials: 4, epochs: 1, sampler: random}]",
         f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.study_name=raises"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    with (sweep_dir / "trials.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4 and [r["number"] for r in table] == ["0", "1", "2", "3"]
    raising = [r for r in table if r["model.fail_at"] == "3"]
    fine = [r for r in table if r["model.fail_at"] == "0"]
    assert raising and fine, table  # the seeded draw gives both values
    for r in raising:
        assert r["state"] == "FAIL" and r["value"] == "", r
        assert "RuntimeError: planted failure at training step 3" in r["reason"], r
        trial = json.loads(Path(r["run_dir"], "summary.json").read_text())
        assert trial["status"] == "failed" and "planted failure" in trial["reason"]
    assert all(r["state"] == "COMPLETE" and float(r["value"]) >= 0 for r in fine), fine
    assert result.stdout.count("val acc: ") == 4 and "(4 / 4)" in result.stdout
    assert "[coarse, FAIL" in result.stdout
    search = json.loads((sweep_dir / "search.json").read_text())
    assert search["best"]["params"]["model.fail_at"] == 0
    assert "failed" in (sweep_dir / "sweep_report.md").read_text()


# -- a trained run to export, resume and transfer from ---------------------------------------------

@pytest.fixture(scope="module")
def source_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("source") / "run"
    result = train(*FACES, "model=lenet5", "trainer.max_epochs=1", "babysit.preflight=false", "babysit.report=false",
                   run_dir=run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


# -- 4. an export that does not match the checkpoint ----------------------------------------------

def test_an_export_whose_outputs_differ_from_the_checkpoint_is_one_line_and_exit_2(source_run, tmp_path, capsys,
                                                                                      monkeypatch):
    import babysit.export as export

    write, run = export.WRITERS["torchscript"]
    ckpt = source_run / "checkpoints" / "last.ckpt"

    # within the tolerances (atol 1e-4 + rtol 1e-4·|x|): accepted
    monkeypatch.setitem(export.WRITERS, "torchscript", (write, lambda path, batch: run(path, batch) + 5e-5))
    export.main([str(ckpt), "--format", "torchscript", "--out", str(tmp_path / "close.pt")])
    assert "outputs match the checkpoint" in capsys.readouterr().out
    assert (tmp_path / "close.pt.json").is_file()

    # the exported runtime gives other numbers: refused
    monkeypatch.setitem(export.WRITERS, "torchscript", (write, lambda path, batch: run(path, batch) + 1e-2))
    with pytest.raises(SystemExit) as stopped:
        export.main([str(ckpt), "--format", "torchscript", "--out", str(tmp_path / "far.pt")])
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert "outputs match" not in captured.out
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"error: {tmp_path / 'far.pt'} differs from {ckpt} by up to 1.0")
    assert "the export is not faithful; keep using the checkpoint" in err
    assert not (tmp_path / "far.pt.json").exists()  # nothing claims the export is usable


# -- 5. a checkpoint that holds pickled objects ---------------------------------------------------

def _poison(ckpt_path: Path, victim: Path) -> None:
    ckpt = torch.load(ckpt_path, weights_only=True)
    ckpt["extra"] = RunsCodeWhenUnpickled(victim)
    torch.save(ckpt, ckpt_path)


@pytest.fixture
def poisoned_run(source_run, tmp_path) -> tuple[Path, Path]:
    run_dir = tmp_path / "run"
    shutil.copytree(source_run, run_dir)
    victim = tmp_path / "victim"
    _poison(run_dir / "checkpoints" / "last.ckpt", victim)
    return run_dir, victim


# the name pickle recorded: this module as pytest imported it
PICKLED = f"holds a pickled {_touch.__module__}._touch, which weights_only loading refuses as unsafe"


def test_resume_refuses_a_checkpoint_that_holds_pickled_objects(poisoned_run):
    run_dir, victim = poisoned_run
    record = {p: p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
    # the pickled function is importable in train.py's process too: were the file loaded unsafely, it would run
    path = os.pathsep.join(p for p in (str(Path(__file__).parent), os.environ.get("PYTHONPATH")) if p)
    result = subprocess.run([sys.executable, "train.py", f"resume={run_dir}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": path})
    one_line_error(result, f"{run_dir / 'checkpoints' / 'last.ckpt'} {PICKLED}")
    assert not victim.exists()  # the object was never built
    assert {p: p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()} == record  # nothing touched


def test_transfer_and_export_refuse_a_checkpoint_that_holds_pickled_objects(poisoned_run, cfg_factory, tmp_path):
    from babysit.errors import BabysitError
    from babysit.export import export
    from babysit.run import build

    run_dir, victim = poisoned_run
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    with pytest.raises(BabysitError, match="^" + re.escape(f"transfer.checkpoint {ckpt} {PICKLED}")):
        build(cfg_factory("data=digits", "model=lenet5", f"transfer.checkpoint={ckpt}", "transfer.mode=freeze"))
    with pytest.raises(BabysitError, match="^" + re.escape(f"checkpoint {ckpt} {PICKLED}")):
        export(ckpt, "onnx", tmp_path / "x.onnx")
    assert not victim.exists() and not (tmp_path / "x.onnx").exists()
    # a plain weights file (what transfer also takes) with a pickled object inside: refused the same way
    weights = tmp_path / "weights.pth"
    torch.save({"conv1.weight": torch.zeros(1), "hook": RunsCodeWhenUnpickled(victim)}, weights)
    with pytest.raises(BabysitError, match="^" + re.escape(f"transfer.checkpoint {weights} {PICKLED}")):
        build(cfg_factory("data=faces", "model=lenet5", f"transfer.checkpoint={weights}"))
    assert not victim.exists()
