import math

import pytest
import torch
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from babysit.epoch_means import EpochMeans


def batches(seed: int, sizes: list[int], classes: int = 10, nan_at: int | None = None):
    g = torch.Generator().manual_seed(seed)
    for i, n in enumerate(sizes):
        logits = torch.randn(n, classes, generator=g)
        y = torch.randint(0, classes, (n,), generator=g)
        data_loss = torch.nn.functional.cross_entropy(logits, y)
        cost = data_loss + torch.rand((), generator=g)
        if i == nan_at:
            cost = torch.tensor(math.nan)
        yield cost, data_loss, logits, y


@pytest.mark.filterwarnings("ignore:Encountered `nan` values")  # torchmetrics says it drops the NaN step
def test_epoch_means_are_torchmetrics_means_bit_for_bit():
    sizes = [64] * 16 + [54]  # a short last batch, as a real epoch has
    for seed, nan_at in ((0, None), (1, 5)):  # a NaN cost is left out, as MeanMetric leaves it out
        means = EpochMeans()
        cost_metric, loss_metric = MeanMetric(), MeanMetric()
        acc_metric = MulticlassAccuracy(10, average="micro", validate_args=False)
        for cost, data_loss, logits, y in batches(seed, sizes, nan_at=nan_at):
            means.update(cost, data_loss, logits, y)
            cost_metric.update(cost, len(y))
            loss_metric.update(data_loss, len(y))
            acc_metric.update(logits, y)
        got = means.compute()
        assert torch.equal(got["train/loss"], cost_metric.compute())
        assert torch.equal(got["train/data_loss"], loss_metric.compute())
        assert torch.equal(got["train/acc"], acc_metric.compute())


def test_epoch_means_add_the_ranks_sums_before_dividing():
    halves = [list(batches(2, [32, 32, 7])), list(batches(3, [32, 32, 7]))]
    ranks = []
    for part in halves:
        m = EpochMeans()
        for batch in part:
            m.update(*batch)
        ranks.append(m)
    everything = EpochMeans()
    for batch in halves[0] + halves[1]:
        everything.update(*batch)
    # what DDP's all-reduce (sum) gives every rank: the sums of both
    reduced = ranks[0].compute(lambda sums: sums + ranks[1]._sums)
    expected = everything.compute()
    for key in expected:
        assert torch.allclose(reduced[key], expected[key], rtol=1e-6)
    assert not ranks[0].empty
    ranks[0].reset()
    assert ranks[0].empty
