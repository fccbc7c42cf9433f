"""How much of a coarse-to-fine sweep is training: `python train.py -m hparams_search=coarse_to_fine
model=lenet5 data=faces` (its stages made smaller or larger with --coarse / --fine), timed around
the sweep alone, against the summed seconds its trials spent inside `fit` (summary.json timings),
and against the same trials (same hyper-parameters, same epochs each) run by a plain Optuna loop in
one process: LeNet-5 and Adam with the L2 term, mini-batches sliced from in-memory tensors,
validation every epoch, no reports, checkpoints or loggers.

Before the timed rounds one untimed sweep records the trials the plain loop replays; each timed
case × repeat then runs in its own process (bench/runner.py).

    python bench/sweep_throughput.py [--repeats 5] [--coarse 20 3] [--fine 10 10]
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, compose_cfg, tmpdir  # noqa: E402
from runner import MARK, child_command, main, parser, ratio, spread, target_line, targets  # noqa: E402

SWEEP, PLAIN = "babysit sweep", "plain Optuna loop"
BASE = ["model=lenet5", "data=faces"]


def sweep_argv(args, sweep_dir: str) -> list[str]:
    stages = (f"[{{name:coarse,trials:{args.coarse[0]},epochs:{args.coarse[1]}}},"
              f"{{name:fine,trials:{args.fine[0]},epochs:{args.fine[1]}}}]")
    return [str(ROOT / "train.py"), "-m", "hparams_search=coarse_to_fine", *BASE, f"hydra.sweep.dir={sweep_dir}",
            f"hydra.sweeper.stages={stages}"]


def babysit_sweep(args):
    import runpy

    import hydra  # noqa: F401  (what train.py and a run import, loaded before the clock starts)

    import babysit.run  # noqa: F401
    import hydra_plugins.babysit_sweeper.sweeper  # noqa: F401

    sweep_dir = args.keep or tmpdir()

    def work():
        sys.argv = sweep_argv(args, sweep_dir)
        try:
            runpy.run_path(str(ROOT / "train.py"), run_name="__main__")
        except SystemExit as e:
            if e.code:
                raise
        return {"fit s": sum(fit_seconds(sweep_dir)), "trials": len(fit_seconds(sweep_dir))}

    return work


def fit_seconds(sweep_dir: str) -> list[float]:
    """Each trial's seconds inside fit, from its summary.json."""
    out = []
    for path in sorted(Path(sweep_dir).glob("trial_*/summary.json")):
        timings = json.loads(path.read_text()).get("timings") or {}
        out.append(float(timings.get("fit", 0.0)))
    return out


def recorded_trials(sweep_dir: str) -> list[dict]:
    """{params, epochs} of every trial of a finished sweep that trained at least one epoch."""
    with (Path(sweep_dir) / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [{"params": {"optimizer.lr": float(r["optimizer.lr"]), "reg.l2": float(r["reg.l2"])},
             "epochs": int(r["epochs"])} for r in rows if r["epochs"] and int(r["epochs"]) > 0]


def plain_optuna(args):
    import lightning.pytorch as pl
    import optuna
    import torch
    from hydra.utils import instantiate

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = json.loads(Path(args.trials).read_text())
    cfg = compose_cfg(BASE, tmpdir())
    dm = instantiate(cfg.data)
    dm.setup()
    (xt, yt), (xv, yv) = dm.splits["train"], dm.splits["val"]
    xt, xv = dm.normalizer(xt), dm.normalizer(xv)
    bs = dm.batch_size
    bounds = {k: (min(t["params"][k] for t in trials), max(t["params"][k] for t in trials))
              for k in trials[0]["params"]}

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("optimizer.lr", *bounds["optimizer.lr"], log=True)
        l2 = trial.suggest_float("reg.l2", *bounds["reg.l2"], log=True)
        epochs = trials[trial.number]["epochs"]
        pl.seed_everything(cfg.seed, verbose=False)
        net = instantiate(cfg.model)
        weights = [p for p in net.parameters() if p.ndim > 1]
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        acc = 0.0
        for epoch in range(epochs):
            net.train()
            order = torch.randperm(len(yt))
            for i in range(0, len(yt), bs):
                idx = order[i:i + bs]
                loss = loss_fn(net(xt[idx]), yt[idx]) + 0.5 * l2 * sum((w * w).sum() for w in weights)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            net.eval()
            with torch.no_grad():
                acc = float((net(xv).argmax(1) == yv).float().mean())
            trial.report(acc, epoch)
        return acc

    def work():
        study = optuna.create_study(direction="maximize")
        for t in trials:
            study.enqueue_trial(t["params"])
        study.optimize(objective, n_trials=len(trials))
        return {"trials": len(trials)}

    return work


def record(args, forward: list[str]) -> str:
    """Run one untimed sweep, keep its directory, and write the trials the plain loop replays."""
    keep = tmpdir()
    print(f"recording the trials: one untimed sweep in {keep}", file=sys.stderr, flush=True)
    argv = [*forward, f"--keep={keep}"] + ([f"--threads={args.threads}"] if args.threads else [])
    proc = subprocess.run(child_command(str(Path(__file__).resolve()), SWEEP, argv), capture_output=True, text=True)
    if proc.returncode != 0 or MARK not in proc.stdout:
        raise SystemExit("the recording sweep failed:\n" + "\n".join(proc.stderr.splitlines()[-15:]))
    path = Path(keep) / "replay.json"
    path.write_text(json.dumps(recorded_trials(keep)))
    return str(path)


def summarise(results: dict) -> list[str]:
    goal = targets("sweep_throughput")
    shares = [r["fit s"] / r["seconds"] for r in results[SWEEP]]
    med, lo, hi = spread(shares)
    share_verdict = "met" if med >= goal["training_share"] else "missed"
    return [
        f"target training share (fit s / sweep s) ≥ {goal['training_share']:g}: {med:.3f} "
        f"(rounds {lo:.3f} – {hi:.3f}) — {share_verdict}",
        target_line(f"{SWEEP} / {PLAIN}", ratio(results, SWEEP, PLAIN), goal["sweep_vs_plain_optuna"]),
    ]


CASES = {SWEEP: babysit_sweep, PLAIN: plain_optuna}

if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--coarse", type=int, nargs=2, default=[20, 3], metavar=("TRIALS", "EPOCHS"))
    p.add_argument("--fine", type=int, nargs=2, default=[10, 10], metavar=("TRIALS", "EPOCHS"))
    p.add_argument("--keep", default=None, help="sweep directory to write (default: a new temporary one)")
    p.add_argument("--trials", default=None, help="the recorded trials the plain loop replays (default: record)")
    args = p.parse_args()
    forward = ["--coarse", *map(str, args.coarse), "--fine", *map(str, args.fine)]
    if args.case is None and args.trials is None:
        args.trials = record(args, forward)
    main(CASES, PLAIN, args, [*forward, f"--trials={args.trials}"] if args.trials else forward, summarise)
