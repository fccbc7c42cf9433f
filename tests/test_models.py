import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck

from babysit.errors import BabysitError
from babysit.models import CifarResNet, VGGSmall, torchvision_resnet
from babysit.run import run
from tests.formats import write_cifar

NORMS = ["none", "batch", "layer", "group", "instance"]
MODELS = {
    "vgg_small": lambda shape, classes, **kw: VGGSmall(shape, classes, channels=(8, 16, 16), hidden=32, **kw),
    "resnet20": lambda shape, classes, **kw: CifarResNet(shape, classes, **kw),
    # the imagenet stem shrinks the maps 4× before the first stage: 16× less compute than the cifar stem
    "resnet_tv": lambda shape, classes, **kw: torchvision_resnet(shape, classes, stem="imagenet", **kw),
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape, classes", [((3, 32, 32), 10), ((1, 16, 16), 100), ((3, 24, 40), 2)])
def test_output_shape(name, shape, classes):
    net = MODELS[name](shape, classes).eval()
    assert net(torch.rand(2, *shape)).shape == (2, classes)


def test_resnet_tv_stems_and_archs():
    for arch, stem in (("resnet18", "cifar"), ("resnet50", "imagenet")):
        net = torchvision_resnet((1, 32, 32), 5, arch=arch, stem=stem).eval()
        assert net(torch.rand(2, 1, 32, 32)).shape == (2, 5)
        assert (net.conv1.kernel_size == (3, 3)) == (stem == "cifar")
        assert isinstance(net.maxpool, torch.nn.Identity) == (stem == "cifar")


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("norm", NORMS)
def test_every_norm_runs_forward_and_backward(name, norm):
    net = MODELS[name]((3, 16, 16), 10, norm=norm).train()
    F.cross_entropy(net(torch.rand(4, 3, 16, 16)), torch.arange(4)).backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    if norm == "none":
        assert not any(isinstance(m, torch.nn.modules.batchnorm._NormBase | torch.nn.GroupNorm) for m in net.modules())


RESIDUAL = {
    "resnet20 pad": lambda norm, zero: CifarResNet((3, 32, 32), 10, norm=norm, zero_init_residual=zero),
    "resnet20 conv": lambda norm, zero: CifarResNet((3, 32, 32), 10, shortcut="conv", depth=8, norm=norm,
                                                    zero_init_residual=zero),
    "resnet18": lambda norm, zero: torchvision_resnet((3, 32, 32), 10, stem="imagenet", norm=norm,
                                                      zero_init_residual=zero),
    "resnet50": lambda norm, zero: torchvision_resnet((3, 32, 32), 10, arch="resnet50", stem="imagenet", norm=norm,
                                                      zero_init_residual=zero),
}


def _branch_contributions(net) -> list[float]:
    """Per residual block: how far its output is from its shortcut alone, relu(shortcut(x))."""
    gaps = []

    def hook(block, inputs, output):
        x = inputs[0]
        shortcut = x if block.downsample is None else torch.relu(block.downsample(x))
        gaps.append((output - shortcut).abs().max().item())

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, BasicBlock | Bottleneck)]
    with torch.no_grad():
        net.eval()(torch.randn(2, 3, 32, 32))
    for h in handles:
        h.remove()
    return gaps


@pytest.mark.parametrize("model, norm", [(m, n) for m in RESIDUAL for n in ("batch", "none")] + [("resnet18", "group")])
def test_zero_init_residual_starts_every_block_as_the_identity(model, norm):
    gaps = _branch_contributions(RESIDUAL[model](norm, True))
    assert gaps and max(gaps) == 0.0
    assert min(_branch_contributions(RESIDUAL[model](norm, False))) > 0


def test_cifar_resnet_depth_and_shortcuts():
    blocks = lambda net: sum(isinstance(m, BasicBlock) for m in net.modules())  # noqa: E731
    assert blocks(CifarResNet((3, 32, 32), 10)) == 9
    assert blocks(CifarResNet((3, 32, 32), 10, depth=32)) == 15
    option_a = sum(p.numel() for p in CifarResNet((3, 32, 32), 10).parameters())
    assert 0.26e6 < option_a < 0.28e6  # the paper's 0.27M
    assert sum(p.numel() for p in CifarResNet((3, 32, 32), 10, shortcut="conv").parameters()) > option_a
    with pytest.raises(BabysitError, match="6n\\+2"):
        CifarResNet((3, 32, 32), 10, depth=21)


def test_resnet_tv_keeps_torchvision_parameter_names():
    state = torchvision.models.resnet18(num_classes=7).state_dict()
    net = torchvision_resnet((3, 32, 32), 7, arch="resnet18", stem="imagenet")
    assert isinstance(net, torchvision.models.ResNet)
    net.load_state_dict(state, strict=True)
    cifar_stem = torchvision_resnet((3, 32, 32), 7).state_dict()
    assert cifar_stem.keys() == state.keys() and cifar_stem["conv1.weight"].shape == (64, 3, 3, 3)


def test_bad_options_are_named():
    with pytest.raises(BabysitError, match="model.arch='vgg11'"):
        torchvision_resnet((3, 32, 32), 10, arch="vgg11")
    with pytest.raises(BabysitError, match="model.stem"):
        torchvision_resnet((3, 32, 32), 10, stem="tiny")
    with pytest.raises(BabysitError, match="model.norm='batchnorm'"):
        torchvision_resnet((3, 32, 32), 10, norm="batchnorm")
    with pytest.raises(BabysitError, match="model.shortcut"):
        CifarResNet((3, 32, 32), 10, shortcut="B")
    with pytest.raises(BabysitError, match="at least 8×8.*data.image_size=32"):
        VGGSmall((1, 4, 4), 10)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("init", ["kaiming", "xavier"])
@pytest.mark.parametrize("classes", [10, 100])
def test_initial_loss_is_ln_c(name, init, classes):
    torch.manual_seed(0)
    net = MODELS[name]((3, 32, 32), classes, init=init).train()
    with torch.no_grad():
        loss = F.cross_entropy(net(torch.randn(32, 3, 32, 32)), torch.randint(0, classes, (32,))).item()
    assert loss == pytest.approx(math.log(classes), abs=0.1)


# 5 train batches (CIFAR-10) or one (CIFAR-100) and a test batch; train/val halves keep every class in both
TINY = {"cifar10": dict(per_batch=4, classes=10), "cifar100": dict(per_batch=200, classes=100)}
SPLIT = ["data.split.train=0.4", "data.split.val=0.4", "data.split.test=0.2"]


@pytest.mark.parametrize("data", TINY)
@pytest.mark.parametrize("model", ["vgg_small", "resnet20", "resnet_tv"])
def test_one_epoch_on_tiny_cifar(cfg_factory, tmp_path, model, data):
    write_cifar(tmp_path / "data", **TINY[data])
    faster = ["model.stem=imagenet"] if model == "resnet_tv" else []
    cfg = cfg_factory(f"model={model}", f"data={data}", f"paths.data_dir={tmp_path / 'data'}", "trainer.max_epochs=1",
                      "babysit.preflight=false", "babysit.report=false", "logger=csv", *SPLIT, *faster)
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_run"] == 1
    assert len(summary["data"]["classes"]) == TINY[data]["classes"]
    assert summary["data"]["in_shape"] == [3, 32, 32]
