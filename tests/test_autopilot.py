"""hparams_search=autopilot: the protocol as one resumable pipeline, through the real command."""

import json
import re
import subprocess
import sys

import pytest

from tests.cli import ROOT

TINY = ["model=lenet5", "data=faces", "trainer.max_epochs=2", "hydra.sweeper.stages.0.trials=2",
        "hydra.sweeper.stages.1.trials=1", "babysit.overfit.epochs=40", "babysit.range_test.steps=40"]
LECTURE = re.compile(r"^val acc: (\S+), lr: \S+, reg: \S+, \((\d+) / 3\)  \[(coarse|fine), ")


def autopilot(tmp_path, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train.py", "-m", "hparams_search=autopilot", *TINY, *extra,
                           f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("autopilot")
    first = autopilot(tmp)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return tmp / "sweep", first


def test_every_step_runs_and_the_write_up_compares_with_the_defaults(finished):
    sweep, result = finished
    state = json.loads((sweep / "pipeline.json").read_text())
    assert list(state["steps"]) == ["preflight", "plan", "final", "baseline"]
    for run in ("preflight", "final", "baseline"):
        assert (sweep / run / "summary.json").is_file()
    assert state["steps"]["final"]["final"]["test/acc"] >= 0 and state["steps"]["baseline"]["final"]
    report = (sweep / "autopilot_report.md").read_text()
    assert "default configuration" in report and "Reproduce the final model" in report
    assert (sweep / "autopilot_report.html").is_file() and (sweep / "sweep_report.html").is_file()


def test_the_coarse_lr_range_is_the_range_tests_widened(finished):
    sweep, _ = finished
    state = json.loads((sweep / "pipeline.json").read_text())
    measured = next(c for c in state["steps"]["preflight"]["summary"]["preflight"]["checks"]
                    if c["check"] == "lr_range")["numbers"]
    coarse = json.loads((sweep / "search.json").read_text())["stages"][0]["ranges"]["optimizer.lr"]
    assert coarse["low"] == pytest.approx(measured["low"] / 3.0)
    assert coarse["high"] == pytest.approx(measured["high"] * 3.0)
    assert "range test" in state["steps"]["plan"]["sources"]["optimizer.lr"]
    assert "overfit check needed" in state["steps"]["plan"]["budget"]
    assert "cross-validation" in state["steps"]["plan"]["scoring"]  # faces: 40 val examples


def test_the_console_has_one_lecture_line_per_trial_and_no_trial_output(finished):
    _, result = finished
    lines = [m for line in result.stdout.splitlines() if (m := LECTURE.match(line))]
    assert sorted(int(m.group(2)) for m in lines) == [1, 2, 3]
    assert "Finished epoch" not in result.stdout  # each trial's own lines are in its console.log


def test_a_rerun_repeats_nothing(finished, tmp_path):
    sweep, _ = finished
    before = (sweep / "trials.csv").read_text()
    again = subprocess.run([sys.executable, "train.py", "-m", "hparams_search=autopilot", *TINY,
                            f"hydra.sweep.dir={sweep}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not [line for line in again.stdout.splitlines() if LECTURE.match(line)]
    assert again.stdout.count("done in an earlier run, not repeated") == 4
    assert (sweep / "trials.csv").read_text() == before


def test_a_preflight_fail_stops_before_any_trial(tmp_path):
    result = autopilot(tmp_path, "model.head_std=100")
    assert result.returncode == 1
    assert "[FAIL] initial loss" in result.stdout and "no trial ran" in result.stdout
    assert "init scale" in result.stdout  # the check's advice
    assert not list((tmp_path / "sweep").glob("trial_*"))


@pytest.mark.parametrize(("override", "message"), [
    ("hydra.sweeper.stages.0.epochs=0", "hydra.sweeper.stages.0.epochs=0 must be a whole number ≥ 1"),
    ("hydra.sweeper.stages.1.sampler=grid", "hydra.sweeper.stages.1.sampler='grid' must be one of random, tpe"),
])
def test_bad_search_settings_get_one_line(tmp_path, override, message):
    result = autopilot(tmp_path, override, timeout=300)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "sweep").exists()  # checked before the sweep starts


def test_a_failed_step_is_recorded_with_its_reason_and_runs_again_next_time(tmp_path):
    from babysit.search.pipeline import Pipeline, PipelineSettings

    launched = []

    def launch_one(overrides, name):
        launched.append(name)
        if len(launched) == 1:
            return {"status": "failed", "reason": "RuntimeError: DefaultCPUAllocator: can't allocate memory"}
        return {"status": "finished", "final": {"test/acc": 0.9}, "epochs_run": 2}

    def final_step():
        pipeline = Pipeline(None, PipelineSettings(plan={}), tmp_path, ["model=lenet5"], 2, launch_one)
        return pipeline.step("final", lambda: pipeline._train("final", ["optimizer.lr=0.01"]))

    failed = final_step()
    assert failed["status"] == "failed" and failed["reason"].endswith("can't allocate memory")
    assert json.loads((tmp_path / "pipeline.json").read_text())["steps"]["final"]["status"] == "failed"
    assert final_step()["status"] == "finished" and launched == ["final", "final"]
    assert final_step()["final"] == {"test/acc": 0.9} and launched == ["final", "final"]  # done: not repeated
