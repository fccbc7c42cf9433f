"""Framework training vs a plain hand-written PyTorch loop on the same model, data,
batch size, epochs and optimiser, with the monitoring callbacks on and off. Prints the
median time of each case, its ratio to the plain loop, and monitors on / monitors off.

    python bench/overhead.py [--repeats 5] [--epochs 10]
"""

import argparse

import torch
from common import compose_cfg, interleave, report, timed, tmpdir
from torch.utils.data import DataLoader, TensorDataset

OVERRIDES = ["data=digits", "model=lenet5", "optimizer=sgd", "optimizer.lr=0.05", "reg.l2=0"]
MONITORS = ["explosion", "loss_progress", "update_ratio", "weight_stats", "dead_units", "train_val_gap"]
MONITORS_OFF = [f"babysit.monitors.{name}.enabled=false" for name in MONITORS]


def plain_loop(epochs: int):
    """The tutorial way: a DataLoader over a TensorDataset, validation every epoch."""
    from hydra.utils import instantiate

    from babysit.models import LeNet5

    cfg = compose_cfg(OVERRIDES, tmpdir())
    dm = instantiate(cfg.data)
    dm.setup()
    norm = dm.normalizer
    (xt, yt), (xv, yv) = dm.splits["train"], dm.splits["val"]
    train = DataLoader(TensorDataset(norm(xt), yt), batch_size=cfg.data.batch_size, shuffle=True)
    val = DataLoader(TensorDataset(norm(xv), yv), batch_size=1024)

    def fit():
        torch.manual_seed(0)
        net = LeNet5((1, 32, 32), 10)
        opt = torch.optim.SGD(net.parameters(), lr=0.05)
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(epochs):
            net.train()
            for x, y in train:
                opt.zero_grad()
                loss = loss_fn(net(x), y)
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                correct = sum(int((net(x).argmax(1) == y).sum()) for x, y in val)
            print(f"epoch done: val {correct / len(yv):.3f}, cost {loss.item():.4f}")

    return lambda: fit


def framework(epochs: int, extra: list[str]):
    from babysit.run import build

    def prepare():
        cfg = compose_cfg(OVERRIDES + [f"trainer.max_epochs={epochs}", *extra], tmpdir())
        dm, module, trainer = build(cfg)
        return lambda: trainer.fit(module, datamodule=dm)

    return prepare


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    cases = {
        "plain PyTorch loop": plain_loop(args.epochs),
        "babysit, monitors off": framework(args.epochs, MONITORS_OFF),
        "babysit, all monitors on": framework(args.epochs, []),
    }
    for prepare in cases.values():  # warm-up: imports (tensorboard), first-call allocations
        timed(prepare())
    times = interleave(cases, args.repeats)
    report(times, "plain PyTorch loop")
    report({k: times[k] for k in ("babysit, monitors off", "babysit, all monitors on")}, "babysit, monitors off")


if __name__ == "__main__":
    main()
