"""Coarse-to-fine with pruning against plain random search, on the same data, model and
ranges. Prints the best val accuracy each reached, the training epochs each spent, the
epochs coarse-to-fine needed to come within 0.5 points of random search's best, and writes
both best-so-far curves to a PNG.

    python bench/search_efficiency.py [--random-trials 100] [--data digits] [--model fc3]
"""

import argparse
import contextlib
import io
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from common import compose_cfg, tmpdir  # noqa: E402

from babysit.run import run  # noqa: E402
from babysit.search.coarse_to_fine import CoarseToFine, SearchSettings, Stage  # noqa: E402
from babysit.search.figures import best_so_far  # noqa: E402
from babysit.search.outputs import trial_rows  # noqa: E402
from babysit.search.storage import storage_url  # noqa: E402
from babysit.search.trial_result import read_result  # noqa: E402

PARAMS = {"optimizer": {"lr": {"type": "log", "low": 1e-6, "high": 1e-3}},
          "reg": {"l2": {"type": "log", "low": 1e-5, "high": 1e5}}}


def search(name: str, stages: list[Stage], pruner: dict, base: list[str], root: Path, seed: int):
    storage = storage_url(None, root, name)
    settings = SearchSettings(params=PARAMS, stages=stages, study_name=name, storage=storage, seed=seed,
                              pruner=pruner, shrink=0.25)

    def launch(jobs, first):
        results = []
        for i, overrides in enumerate(jobs):
            out = root / name / f"trial_{first + i}"
            value, error = None, None
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    value = run(compose_cfg(base + overrides, str(out)))
                except Exception as e:  # noqa: BLE001 - a failed or pruned trial is a result too
                    error = e
            results.append(read_result(out, value, error))
        return results

    def trial_overrides(study, trial_id):
        return [f"trial.study={study.study_name}", f"trial.storage='{storage}'", f"trial.id={trial_id}"]

    study = CoarseToFine(settings).run([], launch, trial_overrides)
    return trial_rows(study)


def epochs_to_reach(rows: list[dict], target: float) -> int | None:
    xs, ys = best_so_far(rows)
    return next((x for x, y in zip(xs, ys, strict=True) if y >= target), None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--random-trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--model", default="fc3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--coarse", type=int, nargs=2, default=[20, 2], metavar=("TRIALS", "EPOCHS"))
    parser.add_argument("--fine", type=int, default=30, help="fine trials (of --epochs epochs each)")
    args = parser.parse_args()
    logging.getLogger("optuna").setLevel(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = [f"data={args.data}", f"model={args.model}", "optimizer=sgd", "babysit.preflight=false",
            "babysit.report=false", "babysit.test=false", "~callbacks.checkpoint", "logger=csv"]
    root = Path(tmpdir())
    with contextlib.redirect_stdout(io.StringIO()):
        random_rows = search("random", [Stage("random", args.random_trials, args.epochs)], {"type": "none"},
                             base, root, args.seed)
        c2f_rows = search("c2f", [Stage("coarse", *args.coarse), Stage("fine", args.fine, args.epochs)],
                          {"type": "median", "n_startup_trials": 5, "n_warmup_steps": 2}, base, root, args.seed)
    curves = {"random search": random_rows, "coarse-to-fine + pruning": c2f_rows}
    best = {k: max(r["value"] for r in rows if r["value"] is not None) for k, rows in curves.items()}
    spent = {k: sum(int(r["epochs"] or 0) for r in rows) for k, rows in curves.items()}
    target = best["random search"] - 0.005
    reach = epochs_to_reach(c2f_rows, target)
    for k in curves:
        print(f"{k:<26} best val acc {best[k]:.4f}   epochs spent {spent[k]:5d}   trials {len(curves[k])}")
    if reach is None:
        print(f"coarse-to-fine never came within 0.5 points of {best['random search']:.4f}")
    else:
        print(f"coarse-to-fine reached {target:.4f} (random's best − 0.005) after {reach} epochs: "
              f"{reach / spent['random search']:.3f} × random search's {spent['random search']} epochs")
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for k, rows in curves.items():
        xs, ys = best_so_far(rows)
        ax.step(xs, ys, where="post", label=k)
    ax.axhline(target, color="grey", linestyle=":", label="random's best − 0.5 points")
    ax.set_xlabel("training epochs spent")
    ax.set_ylabel("best val acc so far")
    ax.set_title(f"search efficiency ({args.data}, {args.model})")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(__file__).resolve().parents[1] / "outputs" / "bench" / "search_efficiency.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"curves: {path}")


if __name__ == "__main__":
    main()
