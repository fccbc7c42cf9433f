"""babysit's training against a plain PyTorch loop: LeNet-5 on digits, the same data, batch size,
epochs, optimiser (SGD, lr 0.05, no regularisation) and initial weights, validating every epoch.

Baselines: the loop the PyTorch tutorials write (a DataLoader over a TensorDataset) and the same
loop slicing in-memory tensors as babysit does. Cases: babysit with its monitors off, and with all
monitors on. Each case × repeat runs in its own process (bench/runner.py); only the training is
timed (`trainer.fit`, or the plain loop's epochs), not imports, data loading or model building.

    python bench/overhead.py [--repeats 5] [--epochs 10] [--threads N]
"""

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import compose_cfg, tmpdir  # noqa: E402
from runner import main, parser, ratio, target_line, targets  # noqa: E402

# training against training: the preflight runs inside fit (the Babysitter's on_fit_start) and is timed
# by run_phases.py, so it is off here
OVERRIDES = ["data=digits", "model=lenet5", "optimizer=sgd", "optimizer.lr=0.05", "reg.l2=0", "babysit.preflight=false"]
MONITORS = ["explosion", "loss_progress", "update_ratio", "weight_stats", "dead_units", "train_val_gap"]
MONITORS_OFF = [f"babysit.monitors.{name}.enabled=false" for name in MONITORS]
PLAIN = ("plain loop, DataLoader", "plain loop, sliced tensors")
OFF, ON = "babysit, monitors off", "babysit, all monitors on"


def _plain_setup(args):
    """Normalised train/val tensors and the model babysit would build (same seed, same init)."""
    import lightning.pytorch as pl
    from hydra.utils import instantiate

    cfg = compose_cfg(OVERRIDES, tmpdir())
    dm = instantiate(cfg.data)
    dm.setup()
    (xt, yt), (xv, yv) = dm.splits["train"], dm.splits["val"]
    pl.seed_everything(cfg.seed, verbose=False)
    net = instantiate(cfg.model)
    return cfg, dm, dm.normalizer(xt), yt, dm.normalizer(xv), yv, net


def _plain_loop(net, lr: float, epochs: int, train_batches, val_batches, n_val: int):
    import torch

    def work():
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        for epoch in range(epochs):
            net.train()
            running = 0.0
            for x, y in train_batches():
                optimizer.zero_grad()
                loss = loss_fn(net(x), y)
                loss.backward()
                optimizer.step()
                running += loss.item()
            net.eval()
            with torch.no_grad():
                correct = sum(int((net(x).argmax(1) == y).sum()) for x, y in val_batches())
            print(f"epoch {epoch + 1}: loss {running:.4f}, val acc {correct / n_val:.4f}")
        return {"val acc": correct / n_val}

    return work


def plain_dataloader(args):
    """The tutorial way: a shuffling DataLoader over a TensorDataset, collating sample by sample."""
    from torch.utils.data import DataLoader, TensorDataset

    cfg, dm, xt, yt, xv, yv, net = _plain_setup(args)
    train = DataLoader(TensorDataset(xt, yt), batch_size=dm.batch_size, shuffle=True)
    val = DataLoader(TensorDataset(xv, yv), batch_size=dm.eval_batch_size)
    return _plain_loop(net, cfg.optimizer.lr, args.epochs, lambda: train, lambda: val, len(yv))


def plain_sliced(args):
    """The same loop over mini-batches sliced from the in-memory tensors by a random permutation."""
    import torch

    cfg, dm, xt, yt, xv, yv, net = _plain_setup(args)
    bs, ebs = dm.batch_size, dm.eval_batch_size

    def train():
        order = torch.randperm(len(yt))
        for i in range(0, len(yt), bs):
            idx = order[i:i + bs]
            yield xt[idx], yt[idx]

    def val():
        for i in range(0, len(yv), ebs):
            yield xv[i:i + ebs], yv[i:i + ebs]

    return _plain_loop(net, cfg.optimizer.lr, args.epochs, train, val, len(yv))


def babysit(extra: list[str]):
    def prepare(args):
        from babysit.run import build

        cfg = compose_cfg(OVERRIDES + [f"trainer.max_epochs={args.epochs}", *extra], tmpdir())
        dm, module, trainer = build(cfg)

        def work():
            trainer.fit(module, datamodule=dm)
            return {"val acc": float(trainer.callback_metrics["val/acc"])}

        return work

    return prepare


CASES = {PLAIN[0]: plain_dataloader, PLAIN[1]: plain_sliced, OFF: babysit(MONITORS_OFF), ON: babysit([])}


def summarise(results: dict) -> list[str]:
    goal = targets("overhead")
    fastest = min(PLAIN, key=lambda name: statistics.median(r["seconds"] for r in results[name]))
    return [
        target_line(f"{OFF} / {fastest}", ratio(results, OFF, fastest), goal["monitors_off_vs_plain"]),
        target_line(f"{ON} / {OFF}", ratio(results, ON, OFF), goal["monitors_on_vs_off"]),
    ]


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()
    main(CASES, PLAIN[0], args, [f"--epochs={args.epochs}"], summarise)
