"""Protocol step 5: overfit a tiny subset (reg 0, plain SGD, full batch) to train acc 1.00."""

import torch

from babysit.callbacks.epoch_line import format_epoch_line
from babysit.preflight.probe import Probe, is_bad
from babysit.verdict import FAIL, INFO, PASS, Verdict


@torch.no_grad()
def accuracy(probe: Probe, model, batch) -> float:
    if batch is None:
        return float("nan")
    was_training = model.training
    model.eval()
    acc = float((probe.scores(model, batch).argmax(1) == probe.fmt.targets(batch)).float().mean())
    model.train(was_training)
    return acc


def overfit_tiny(probe: Probe, examples: int, epochs: int, lr: float, target_acc: float, max_final_cost: float,
                 print_every: int, echo=print) -> Verdict:
    batch, val = probe.examples(examples), probe.val_batch()
    y = probe.fmt.targets(batch)
    model = probe.fresh()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    trace = {"epoch": [], "cost": [], "train_acc": []}
    reached, cost = None, float("nan")
    for epoch in range(1, epochs + 1):
        loss, scores = probe.step(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        cost = loss.item()
        acc = float((scores.detach().argmax(1) == y).float().mean())
        trace["epoch"].append(epoch)
        trace["cost"].append(cost)
        trace["train_acc"].append(acc)
        if reached is None and acc >= target_acc:
            reached = epoch
        if is_bad(cost):
            break
        if epoch % print_every == 0 or epoch in (1, epochs):
            echo("  " + format_epoch_line(epoch, epochs, cost, acc, accuracy(probe, model, val), lr))
    final_acc = accuracy(probe, model, batch)
    numbers = {"examples": len(y), "classes_seen": len(torch.unique(y)), "epochs": epochs, "lr": lr,
               "reached_epoch": reached, "final_cost": cost, "final_train_acc": final_acc,
               "val_acc": accuracy(probe, model, val), "val_examples": probe.fmt.size(val) if val is not None else 0,
               "trace": trace}
    if reached is not None and final_acc >= target_acc and cost > max_final_cost:
        return Verdict(
            "overfit_tiny", INFO,
            f"overfit {len(y)} examples to train acc {final_acc:.2f}, the cost still {cost:.4f} after "
            f"{len(trace['cost'])} epochs (tiny is below {max_final_cost:g})",
            advice=f"the model learns slowly at babysit.overfit.lr={lr:g}, or the loss cannot get near 0 "
                   "(probabilities into it, bounded scores)",
            numbers=numbers)
    if reached is not None and final_acc >= target_acc:
        return Verdict("overfit_tiny", PASS,
                       f"overfit {len(y)} examples: train acc {final_acc:.2f} (first at epoch {reached}), "
                       f"final cost {cost:.6f} after {len(trace['cost'])} epochs", numbers=numbers)
    return Verdict(
        "overfit_tiny", FAIL,
        f"could not overfit {len(y)} examples: train acc {final_acc:.2f}, cost {cost:.6f} after "
        f"{len(trace['cost'])} epochs (lr {lr:g})",
        advice="a model that cannot learn 20 examples will not learn the data: check capacity, the "
               "loss and the labels, or change babysit.overfit.lr (lower if the cost blew up)",
        numbers=numbers,
    )
