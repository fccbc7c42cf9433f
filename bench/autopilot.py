"""The autopilot against what a user would do instead: (a) the default configuration trained at the same
final budget (the autopilot's own baseline step), (b) Optuna's TPE sampler with the Hyperband pruner over the
lecture's ranges (lr 10**U(-6, -3), reg 10**U(-5, 5)), its trials at the final budget, until it has spent
as many epochs as the autopilot did. Each dataset × seed runs in fresh processes; the medians over the seeds
are printed per dataset: final test accuracy of each and the epochs spent.

    python bench/autopilot.py [--seeds 0 1 2] [--cases faces/lenet5 digits/fc3 digits/lenet5] [--out F] [--fresh]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LECTURE = {"optimizer.lr": (1e-6, 1e-3), "reg.l2": (1e-5, 1e5)}


def autopilot(data: str, model: str, seed: int, out: Path) -> dict:
    sweep = out / "autopilot"
    _run([sys.executable, "train.py", "-m", "hparams_search=autopilot", f"data={data}", f"model={model}",
          f"seed={seed}", f"hydra.sweep.dir={sweep}"])
    state = json.loads((sweep / "pipeline.json").read_text())["steps"]
    for step in ("final", "baseline"):
        if "test/acc" not in (state.get(step, {}).get("final") or {}):
            sys.exit(f"the autopilot's {step} step has no test accuracy ({state.get(step, {}).get('status')}): "
                     f"see {sweep}")
    trials = sum(int(r["epochs"] or 0) for r in _rows(sweep / "trials.csv"))
    return {"autopilot": state["final"]["final"]["test/acc"], "default": state["baseline"]["final"]["test/acc"],
            "epochs": trials + int(state["final"]["epochs_run"] or 0), "final_epochs": state["final"]["epochs_run"]}


def _rows(path: Path) -> list[dict]:
    import csv

    with path.open() as f:
        return list(csv.DictReader(f))


TPE_LOOP = r"""
import json, sys, optuna
sys.path.insert(0, {root!r})
from tests.conftest import make_cfg
from babysit.run import run
from pathlib import Path

data, model, seed, budget, epochs, out = {data!r}, {model!r}, {seed}, {budget}, {epochs}, Path({out!r})
optuna.logging.set_verbosity(optuna.logging.WARNING)
out.mkdir(parents=True, exist_ok=True)
storage = f"sqlite:///{{out / 'tpe.db'}}"
study = optuna.create_study(study_name="tpe", storage=storage, direction="maximize",
                            sampler=optuna.samplers.TPESampler(seed=seed),
                            pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs))
space = {{k: optuna.distributions.FloatDistribution(lo, hi, log=True) for k, (lo, hi) in {ranges!r}.items()}}
spent, results = 0, {{}}
while spent < budget:
    trial = study.ask(space)
    run_dir = out / f"trial_{{trial.number}}"
    cfg = make_cfg([f"data={{data}}", f"model={{model}}", f"seed={{seed}}", f"trainer.max_epochs={{epochs}}",
                    "babysit.preflight=false", "babysit.report=false", "console_log=true",
                    f"trial.study=tpe", f"trial.storage='{{storage}}'", f"trial.id={{trial._trial_id}}",
                    "trial.pruner={{type:hyperband,min_resource:1}}",
                    *[f"{{k}}={{v}}" for k, v in trial.params.items()]], run_dir)
    try:
        value = run(cfg)
        summary = json.loads((run_dir / "summary.json").read_text())
        spent += int(summary.get("epochs_run") or 0)
        if value is None or summary.get("exploded"):
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, value)
            results[trial.number] = summary["final"]["test/acc"]
    except optuna.TrialPruned:
        summary = json.loads((run_dir / "summary.json").read_text())
        spent += int(summary.get("epochs_run") or 0)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
best = study.best_trial
print(json.dumps({{"tpe": results[best.number], "epochs": spent, "trials": len(study.trials)}}))
"""


def tpe_hyperband(data: str, model: str, seed: int, budget: int, epochs: int, out: Path) -> dict:
    code = TPE_LOOP.format(root=str(ROOT), data=data, model=model, seed=seed, budget=budget, epochs=epochs,
                           out=str(out / "tpe"), ranges=LECTURE)
    result = _run([sys.executable, "-c", code])
    return json.loads(result.stdout.strip().splitlines()[-1])


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(cmd[:2])} … failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cases", nargs="+", default=["faces/lenet5", "digits/fc3", "digits/lenet5"])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench" / "autopilot.json",
                        help="results so far: a re-run skips the case × seed pairs already in it")
    parser.add_argument("--fresh", action="store_true", help="run every pair again")
    args = parser.parse_args()
    table = {} if args.fresh or not args.out.is_file() else json.loads(args.out.read_text())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for case in args.cases:
        data, model = case.split("/")
        rows = table.setdefault(case, [])
        for seed in args.seeds:
            if any(r["seed"] == seed for r in rows):
                continue
            work = args.out.parent / "autopilot_runs" / f"{data}_{model}_seed{seed}"  # kept, to look into
            shutil.rmtree(work, ignore_errors=True)
            a = autopilot(data, model, seed, work)
            t = tpe_hyperband(data, model, seed, a["epochs"], a["final_epochs"], work)
            rows.append({**a, "tpe": t["tpe"], "tpe_epochs": t["epochs"], "tpe_trials": t["trials"], "seed": seed})
            args.out.write_text(json.dumps(table, indent=2))  # kept as each pair ends
            print(f"{case} seed {seed}: autopilot {a['autopilot']:.4f}, default {a['default']:.4f}, "
                  f"TPE+Hyperband {t['tpe']:.4f} ({a['epochs']} vs {t['epochs']} epochs)", flush=True)
    print("\nmedian test accuracy over the seeds run")
    print(f"{'case':<16} {'seeds':>6} {'autopilot':>10} {'default':>10} {'TPE+HB':>10} "
          f"{'epochs (autopilot / TPE)':>26}")
    for case in args.cases:
        rows = table.get(case) or []
        if not rows:
            continue
        med = {k: statistics.median(r[k] for r in rows)
               for k in ("autopilot", "default", "tpe", "epochs", "tpe_epochs")}
        print(f"{case:<16} {len(rows):>6} {med['autopilot']:>10.4f} {med['default']:>10.4f} {med['tpe']:>10.4f} "
              f"{med['epochs']:>12.0f} / {med['tpe_epochs']:<12.0f}")


if __name__ == "__main__":
    main()
