"""resume=<run dir>: a run stopped by Ctrl-C, SIGTERM or a kill continues to the numbers the
uninterrupted run gives, and bad resumes are refused in one line."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from babysit.errors import BabysitError
from babysit.resume import ResumePoint, expand_argv
from babysit.run import run
from tests.cli import ROOT, one_line_error, train
from tests.conftest import make_cfg

# dropout and augmentation draw random numbers every step: the random generators must resume too.
# 120 training patches / 16 = 8 steps an epoch; monitors every 3 steps, so they measure inside epochs.
RUN = ["data=faces", "model=lenet5", "trainer.max_epochs=4", "data.batch_size=16", "model.dropout=0.3",
       "augment=light", "babysit.preflight=false", "babysit.report=false", "babysit.monitors.interval=3",
       "babysit.monitors.explosion.factor=10"]


def outcome(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"final": summary["final"], "epochs_run": summary["epochs_run"],
            "verdicts": [(v["check"], v["status"], v["message"]) for v in summary["monitors"]["verdicts"]]}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = train(*RUN, run_dir=run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.mark.parametrize(("signal_name", "step", "code", "where"), [
    ("SIGTERM", 19, 143, "epoch 3, step 20"),  # in the middle of epoch 3: saved after the next step
    ("SIGINT", 16, 130, "epoch 3, step 16"),   # on epoch 2's last step: stops once epoch 2 is complete
    ("SIGKILL", 21, -9, None),                 # nothing saved on the way out: the epoch-2 checkpoint is used
])
def test_an_interrupted_run_resumes_to_the_uninterrupted_numbers(uninterrupted, tmp_path, signal_name, step, code,
                                                                where):
    run_dir = tmp_path / "run"
    stop = ["+callbacks.stop._target_=tests.interrupt.SignalAt", f"+callbacks.stop.step={step}",
            f"+callbacks.stop.signal_name={signal_name}"]
    stopped = train(*RUN, *stop, run_dir=run_dir)
    assert stopped.returncode == code, stopped.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    if where is not None:
        assert f"Interrupted at {where}: saved {run_dir / 'checkpoints' / 'last.ckpt'}" in stopped.stdout
        assert f"Continue with: python train.py resume={run_dir.resolve()}" in stopped.stdout
        assert summary["status"] == "interrupted"
    else:
        assert summary["status"] == "running"  # a killed run cannot say more
    assert "Finished:" not in stopped.stdout

    resumed = subprocess.run([sys.executable, "train.py", f"resume={run_dir}", "callbacks.stop.step=-1"], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)  # the run's own command would stop it again
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming" in resumed.stdout and "Preflight" not in resumed.stdout
    assert outcome(run_dir) == outcome(uninterrupted)
    after = json.loads((run_dir / "summary.json").read_text())
    assert after["status"] == "finished" and len(after["resumed"]) == 1
    # the whole history, not only the end: every logged value of every step and epoch
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "metrics.csv"), pd.read_csv(uninterrupted / "metrics.csv"))
    epoch_lines = [line for line in (stopped.stdout + resumed.stdout).splitlines() if line.startswith("Finished epoch")]
    assert len(epoch_lines) == 4 and len(set(epoch_lines)) == 4  # each epoch reported once


def test_last_checkpoint_carries_what_an_exact_resume_needs(uninterrupted):
    ckpt = torch.load(uninterrupted / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["epoch"] == 4 and ckpt["global_step"] == 32
    assert {"torch", "numpy", "python"} <= set(ckpt["babysit_resume"]["random"])
    assert ckpt["babysit_resume"]["csv_rows"] > 0
    babysitter = ckpt["callbacks"]["Babysitter"]  # the monitors' states, each under its own key
    assert ckpt["optimizer_states"] and any("DeadUnits" in k for k in babysitter)
    assert {"DeadUnits", "ExplosionStop", "TrainValGap"} <= {k.split("{")[0] for k in ckpt["babysit_verdicts"]}


def test_resume_can_train_a_finished_run_longer(uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted, run_dir)
    result = subprocess.run([sys.executable, "train.py", f"resume={run_dir}", "trainer.max_epochs=5"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Finished epoch 5 / 5" in result.stdout and "Finished epoch 4 /" not in result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs_run"] == 5
    assert "trainer.max_epochs=5" in (run_dir / ".hydra" / "overrides.yaml").read_text()


def test_bad_resumes_get_one_line_and_leave_the_run_alone(uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted, run_dir)
    record = {name: (run_dir / name).read_bytes() for name in (".hydra/overrides.yaml", ".hydra/config.yaml",
                                                                "summary.json", "metrics.csv")}

    def resume(*args: str):
        return subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=600)

    one_line_error(resume("resume=/no/such/run"), "resume=/no/such/run is not a folder")
    one_line_error(resume(f"resume={run_dir}", "model=fc3"), "its checkpoint holds LeNet5, this command builds FC3")
    assert {name: (run_dir / name).read_bytes() for name in record} == record  # a refused resume changes nothing


def test_a_checkpoint_of_other_data_is_refused(uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted, run_dir)
    overrides = [a for a in expand_argv([f"resume={run_dir}", "data=digits"]) if not a.startswith("hydra.")]
    cfg = make_cfg(overrides, run_dir)
    with pytest.raises(BabysitError, match="its checkpoint was trained on data faces, this command gives digits"):
        run(cfg)


def test_a_resume_needs_a_run_dir_with_its_checkpoint(uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted, run_dir)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(BabysitError, match="last.ckpt is not a torch checkpoint"):
        ResumePoint.of(run_dir)
    (run_dir / "checkpoints" / "last.ckpt").unlink()
    with pytest.raises(BabysitError, match="has no checkpoints/last.ckpt: the run stopped before it saved one"):
        expand_argv([f"resume={run_dir}"])
    shutil.rmtree(run_dir / ".hydra")
    with pytest.raises(BabysitError, match="holds no .hydra/overrides.yaml"):
        expand_argv([f"resume={run_dir}"])
    with pytest.raises(BabysitError, match="leave out -m"):
        expand_argv(["-m", f"resume={uninterrupted}"])


def test_the_expanded_command_expands_to_itself(tmp_path):
    """The processes of a DDP run re-run the expanded command: it must compose the same config."""
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")
    (run_dir / ".hydra" / "overrides.yaml").write_text("- data=digits\n- +trainer.profiler=simple\n- seed=1\n")
    once = expand_argv([f"resume={run_dir}", "+trainer.profiler=simple", "trainer.max_epochs=5"])
    assert once[:4] == ["data=digits", "seed=1", "+trainer.profiler=simple", "trainer.max_epochs=5"]
    assert "trainer.profiler=advanced" in expand_argv([f"resume={run_dir}", "trainer.profiler=advanced"])
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {a}\n" for a in once if not a.startswith("hydra")))
    twice = expand_argv(once)
    assert [a for a in twice if a.startswith("+")] == ["+trainer.profiler=simple"]
    assert OmegaConf.to_container(compose(twice)) == OmegaConf.to_container(compose(once))


def compose(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose("train", overrides=[a for a in overrides if not a.startswith("hydra.")])
