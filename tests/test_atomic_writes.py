"""Writes that lose nothing: a write that fails half-way (a full disk) or is killed leaves the previous
version of summary.json, the reports, trials.csv, best.yaml and last.ckpt readable."""

import errno
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
import yaml

from babysit import atomic
from babysit.atomic import write_text
from babysit.checkpoint_io import AtomicCheckpointIO
from babysit.report.render import write_markdown_and_html
from babysit.search.coarse_to_fine import CoarseToFine, SearchSettings, Stage
from babysit.search.outputs import write_outputs
from babysit.summary import RunSummary


@pytest.fixture
def full_disk(monkeypatch):
    """Every write reaches the disk's limit after its bytes went to the temporary file."""
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    def arm():
        monkeypatch.setattr(atomic.os, "fsync", no_space)

    return arm


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_failing_write_keeps_the_previous_file_and_leaves_no_temporary_file(tmp_path, full_disk):
    path = write_text(tmp_path / "notes.txt", "first")
    full_disk()
    with pytest.raises(OSError, match="No space left"):
        write_text(path, "second, longer than the first")
    assert path.read_text() == "first"
    assert leftovers(tmp_path) == []


def test_summary_json_survives_a_failing_update(tmp_path, full_disk):
    summary = RunSummary(tmp_path / "summary.json", status="running", epochs_run=3)
    full_disk()
    with pytest.raises(OSError):
        summary.update(status="finished", epochs_run=30)
    assert json.loads((tmp_path / "summary.json").read_text()) == {"status": "running", "epochs_run": 3}


def test_a_summary_that_must_not_write_leaves_no_file(tmp_path):
    RunSummary(tmp_path / "summary.json", write=False, status="running").update(status="finished")
    assert not (tmp_path / "summary.json").exists()


def test_report_survives_a_failing_rewrite(tmp_path, full_disk):
    html = write_markdown_and_html(tmp_path, "report", "# Report\n\nfirst version\n")
    before = html.read_text(), (tmp_path / "report.md").read_text()
    full_disk()
    with pytest.raises(OSError):
        write_markdown_and_html(tmp_path, "report", "# Report\n\nsecond version\n")
    assert (html.read_text(), (tmp_path / "report.md").read_text()) == before
    assert "first version" in before[0]


def _search(tmp_path) -> tuple[CoarseToFine, optuna.Study]:
    settings = SearchSettings(params={"optimizer": {"lr": {"type": "log", "low": 1e-6, "high": 1e-3}}},
                              stages=[Stage("coarse", 4, 1)], study_name="atomic",
                              storage=f"sqlite:///{tmp_path / 'atomic.db'}")
    search = CoarseToFine(settings)
    study = search.open_study()
    return search, study


def _add_trial(study: optuna.Study, value: float) -> None:
    trial = study.ask({"optimizer.lr": optuna.distributions.FloatDistribution(1e-6, 1e-3, log=True)})
    trial.set_user_attr("stage", "coarse")
    study.tell(trial, value)


def test_trials_csv_and_best_yaml_survive_a_failing_rewrite(tmp_path, full_disk):
    search, study = _search(tmp_path)
    _add_trial(study, 0.5)
    write_outputs(study, search, tmp_path, ["data=digits"])
    before = {name: (tmp_path / name).read_text() for name in ("trials.csv", "best.yaml", "search.json")}
    _add_trial(study, 0.9)  # a new best: every file would change
    full_disk()
    with pytest.raises(OSError):
        write_outputs(study, search, tmp_path, ["data=digits"])
    assert {name: (tmp_path / name).read_text() for name in before} == before
    assert yaml.safe_load(before["best.yaml"])["value"] == 0.5
    assert leftovers(tmp_path) == []


def test_a_checkpoint_write_that_fails_half_way_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "epoch": 4}, path)

    def half_written(obj, f):
        f.write(b"PK\x03\x04 truncated")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("babysit.checkpoint_io.torch.save", half_written)
    with pytest.raises(OSError):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "epoch": 5}, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded["epoch"] == 4 and torch.equal(loaded["state_dict"]["w"], torch.ones(3))


WRITER = """
import sys, torch
from babysit.checkpoint_io import AtomicCheckpointIO
io, path, i = AtomicCheckpointIO(), sys.argv[1], 0
while True:
    io.save_checkpoint({"state_dict": {"w": torch.full((4_000_000,), float(i))}, "version": i}, path)
    i += 1
    if i == 1:
        print("saved", flush=True)
"""


def test_a_kill_during_checkpoint_writes_leaves_a_readable_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    for delay in (0.05, 0.13, 0.31):  # 16 MB writes: the kill lands inside one of them
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "saved"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        loaded = torch.load(path, weights_only=True)
        assert torch.all(loaded["state_dict"]["w"] == loaded["version"])
