"""Protocol step 5: overfit a tiny subset (reg 0, plain SGD, full batch) to train acc 1.00."""

import torch

from babysit.callbacks.epoch_line import format_epoch_line
from babysit.preflight.probe import fresh_copy, is_bad
from babysit.verdict import FAIL, PASS, Verdict


def tiny_subset(y: torch.Tensor, examples: int) -> torch.Tensor:
    """Indices of `examples` training samples, classes taken in turn so that all appear."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    by_class = [order[y[order] == c] for c in torch.unique(y)]
    picked = [group[i] for i in range(max(len(g) for g in by_class)) for group in by_class if i < len(group)]
    return torch.stack(picked[:examples])


@torch.no_grad()
def _accuracy(net, x, y) -> float:
    net.eval()
    acc = float((net(x).argmax(1) == y).float().mean())
    net.train()
    return acc


def overfit_tiny(net, criterion, dm, examples: int, epochs: int, lr: float, target_acc: float,
                 print_every: int, echo=print) -> Verdict:
    x_all, y_all = dm.splits["train"]
    idx = tiny_subset(y_all, examples)
    x, y = dm.prepare_batch(x_all[idx], train=False), y_all[idx]
    x_val, y_val = dm.splits["val"]
    x_val = dm.prepare_batch(x_val, train=False)
    probe = fresh_copy(net)
    optimizer = torch.optim.SGD(probe.parameters(), lr=lr)
    trace = {"epoch": [], "cost": [], "train_acc": []}
    reached, cost = None, float("nan")
    for epoch in range(1, epochs + 1):
        logits = probe(x)
        loss = criterion(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        cost = loss.item()
        acc = float((logits.detach().argmax(1) == y).float().mean())
        trace["epoch"].append(epoch)
        trace["cost"].append(cost)
        trace["train_acc"].append(acc)
        if reached is None and acc >= target_acc:
            reached = epoch
        if is_bad(cost):
            break
        if epoch % print_every == 0 or epoch in (1, epochs):
            echo("  " + format_epoch_line(epoch, epochs, cost, acc, _accuracy(probe, x_val, y_val), lr))
    final_acc = _accuracy(probe, x, y)
    numbers = {"examples": len(y), "epochs": epochs, "lr": lr, "reached_epoch": reached,
               "final_cost": cost, "final_train_acc": final_acc, "trace": trace}
    if reached is not None and final_acc >= target_acc:
        verdict = Verdict("overfit_tiny", PASS,
                          f"overfit {len(y)} examples: train acc {final_acc:.2f} (first at epoch {reached}), "
                          f"final cost {cost:.6f} after {len(trace['cost'])} epochs", numbers=numbers)
    else:
        verdict = Verdict(
            "overfit_tiny", FAIL,
            f"could not overfit {len(y)} examples: train acc {final_acc:.2f}, cost {cost:.6f} after "
            f"{len(trace['cost'])} epochs (lr {lr:g})",
            advice="a model that cannot learn 20 examples will not learn the data: check capacity, the "
                   "loss and the labels, or change babysit.overfit.lr (lower if the cost blew up)",
            numbers=numbers,
        )
    return verdict
