import json
from pathlib import Path

from babysit.run import run
from babysit.timings import PHASES, PhaseTimer, process_age


def test_summary_says_where_the_time_went_and_the_run_prints_it(cfg_factory, capsys):
    cfg = cfg_factory("data=digits", "model=fc3", "trainer.max_epochs=1", "babysit.overfit.epochs=20",
                      "babysit.range_test.steps=20")
    run(cfg)
    timings = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())["timings"]
    assert {"setup", "preflight", "fit", "test", "report", "wall"} <= set(timings)
    phases = [timings[k] for k in PHASES if k in timings and k != "startup"]
    assert all(t >= 0 for t in timings.values())
    assert sum(phases) <= timings["wall"] + 0.01
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Time: ")]
    assert len(line) == 1 and all(f"{k} " in line[0] for k in ("setup", "preflight", "fit", "test", "report"))


def test_phases_add_up_and_only_the_first_run_of_a_process_counts_its_startup():
    timer = PhaseTimer()  # the test process has run before: no startup
    assert "startup" not in timer.as_dict()
    with timer.phase("fit"):
        pass
    with timer.phase("fit"):
        pass
    t = timer.as_dict()
    assert set(t) == {"fit", "wall"} and t["fit"] <= t["wall"]
    age = process_age()
    assert age is None or age > 0


def test_a_resumed_run_adds_its_time_to_the_earlier_parts():
    timer = PhaseTimer()
    timer.carry({"setup": 1.0, "preflight": 2.0, "fit": 3.0, "report": 0.5, "wall": 7.0})
    with timer.phase("fit"):
        pass
    t = timer.as_dict()
    assert t["preflight"] == 2.0 and t["report"] == 0.5 and 3.0 <= t["fit"] < 3.5
    assert 7.0 <= t["wall"] < 7.5
    assert "setup 1.0 s, preflight 2.0 s, fit 3.0 s, report 0.5 s (run 7.0 s)" in timer.line()
