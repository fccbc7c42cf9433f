import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import onnxruntime
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from babysit.checkpoint import load_network, read
from babysit.errors import BabysitError
from babysit.export import export
from babysit.run import build, run
from tests.cli import ROOT
from tests.conftest import make_cfg
from tests.formats import write_cifar, write_folder

SOURCE = ["data=faces", "model=lenet5", "model.norm=batch", "trainer.max_epochs=1", "babysit.preflight=false",
          "babysit.report=false"]


@pytest.fixture(scope="module")
def faces_ckpt(tmp_path_factory) -> Path:
    """A LeNet-5 (with batch norm) trained one epoch on faces: the checkpoint to transfer from."""
    cfg = make_cfg(SOURCE, tmp_path_factory.mktemp("source") / "run")
    run(cfg)
    return Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"


def test_checkpoints_load_with_weights_only_and_describe_the_network(faces_ckpt):
    ckpt = read(faces_ckpt)  # torch.load(weights_only=True) inside
    assert ckpt["babysit"]["classes"] == ["nonface", "face"]
    net, meta = load_network(faces_ckpt)
    assert meta["in_shape"] == [1, 32, 32] and meta["model"]["norm"] == "batch"
    assert torch.equal(net.features.conv1.weight, ckpt["state_dict"]["net.features.conv1.weight"])


def test_finetune_loads_the_backbone_replaces_the_head_and_slows_the_backbone(faces_ckpt, cfg_factory):
    cfg = cfg_factory("data=digits", "model=lenet5", "model.norm=batch", f"transfer.checkpoint={faces_ckpt}",
                      "optimizer.lr=0.002")
    _, module, _ = build(cfg)
    source = read(faces_ckpt)["state_dict"]
    t = module.transfer
    assert t.head == "classifier.fc3" and len(t.loaded) == len([k for k in source if "fc3" not in k])
    assert torch.equal(module.net.features.conv2.weight, source["net.features.conv2.weight"])
    assert torch.equal(module.net.features.norm1.running_mean, source["net.features.norm1.running_mean"])
    assert module.net.classifier.fc3.weight.shape == (10, 84)  # a new head for digits' 10 classes
    groups = module.param_groups()
    assert [g["name"] for g in groups] == ["backbone", "head"]
    assert groups[0]["lr"] == pytest.approx(0.0002)
    optimizer = module.optimizer_factory(params=groups)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.0002, 0.002])


def test_freeze_trains_only_the_head_and_keeps_the_norm_statistics(faces_ckpt, cfg_factory):
    cfg = cfg_factory("data=faces", "model=lenet5", "model.norm=batch", f"transfer.checkpoint={faces_ckpt}",
                      "transfer.mode=freeze", "trainer.max_epochs=2", "babysit.preflight=false",
                      "reg.max_norm=0.05", "reg.l2=100")  # neither may touch frozen weights
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    assert summary["transfer"]["mode"] == "freeze" and summary["transfer"]["frozen_tensors"] > 0
    trained = read(Path(cfg.paths.output_dir, "checkpoints", "last.ckpt"))["state_dict"]
    source = read(faces_ckpt)["state_dict"]
    for key in ("net.features.conv1.weight", "net.classifier.fc1.weight", "net.features.norm1.running_mean",
                "net.features.norm1.running_var"):
        assert torch.equal(trained[key], source[key]), key
    assert not torch.equal(trained["net.classifier.fc3.weight"], source["net.classifier.fc3.weight"])
    report = Path(cfg.paths.output_dir, "report.md").read_text()
    assert re.search(r"\| transfer \| \d+ tensors from .*; new head classifier.fc3; backbone frozen", report)


def test_a_plain_state_dict_file_transfers_like_torchvision_weights(tmp_path, faces_ckpt, cfg_factory):
    net, _ = load_network(faces_ckpt)
    weights = tmp_path / "lenet5_faces.pth"
    torch.save(net.state_dict(), weights)
    _, module, _ = build(cfg_factory("data=digits", "model=lenet5", "model.norm=batch",
                                     f"transfer.checkpoint={weights}"))
    assert torch.equal(module.net.classifier.fc1.weight, net.classifier.fc1.weight)
    assert module.transfer.as_dict()["tensors_loaded"] == len(net.state_dict()) - 2


def test_keeping_the_head_needs_the_same_classes(faces_ckpt, cfg_factory):
    _, module, _ = build(cfg_factory(*SOURCE, f"transfer.checkpoint={faces_ckpt}", "transfer.head=keep"))
    assert torch.equal(module.net.classifier.fc3.weight, read(faces_ckpt)["state_dict"]["net.classifier.fc3.weight"])
    with pytest.raises(BabysitError, match=r"trained on 2 classes .* the data has 10 .* transfer.head=new"):
        build(cfg_factory("data=digits", "model=lenet5", "model.norm=batch", f"transfer.checkpoint={faces_ckpt}",
                          "transfer.head=keep"))


def test_a_checkpoint_of_another_architecture_is_refused(faces_ckpt, cfg_factory):
    with pytest.raises(BabysitError, match=r"none of the 30 tensors .* fit FC3 \(it holds .*LeNet5\)"):
        build(cfg_factory("data=faces", "model=fc3", f"transfer.checkpoint={faces_ckpt}"))


@pytest.mark.filterwarnings("ignore:.*torch.jit.*deprecated:FutureWarning")
@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "pt2"])
def test_export_gives_the_checkpoints_outputs_on_real_images(faces_ckpt, tmp_path, cfg_factory, fmt):
    path, diff = export(faces_ckpt, fmt, tmp_path / f"model.{fmt}")
    assert diff < 1e-4
    info = json.loads(path.with_name(path.name + ".json").read_text())
    assert info["classes"] == ["nonface", "face"] and info["input"]["shape"] == ["N", 1, 32, 32]
    # the exported model takes raw [0, 1] images: normalisation is inside it
    dm, _, _ = build(cfg_factory(*SOURCE))
    raw = dm.splits["test"][0][:16]
    net, meta = load_network(faces_ckpt)
    with torch.no_grad():
        expected = net((raw - torch.tensor(meta["normalize"]["mean"]).view(1, -1, 1, 1))
                       / torch.tensor(meta["normalize"]["std"]).view(1, -1, 1, 1))
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = torch.from_numpy(session.run(None, {"images": raw.numpy()})[0])
    elif fmt == "torchscript":
        got = torch.jit.load(str(path))(raw)
    else:
        got = torch.export.load(str(path)).module()(raw)
    assert torch.allclose(got, expected, atol=1e-4)


def _export_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "babysit.export", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_export_command_writes_next_to_the_run_and_refuses_a_missing_file(faces_ckpt, tmp_path):
    result = _export_cli(str(faces_ckpt), "--format", "torchscript")
    assert result.returncode == 0, result.stderr
    assert (faces_ckpt.parent.parent / "export" / "last.pt").is_file()
    missing = _export_cli(str(tmp_path / "nope.ckpt"), "--format", "onnx")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "nope.ckpt not found" in missing.stderr


def test_freeze_leaves_layers_that_could_not_be_loaded_trainable(faces_ckpt, cfg_factory, tmp_path):
    colour = write_folder(tmp_path / "colour", mode="RGB", per_class=10)
    _, module, _ = build(cfg_factory("data=folder", f"data.root={colour}", "data.channels=3", "model=lenet5",
                                     "model.norm=batch", f"transfer.checkpoint={faces_ckpt}", "transfer.mode=freeze"))
    t = module.transfer
    assert "features.conv1.weight" in t.skipped and "features.conv1.weight" in t.fresh
    assert module.net.features.conv1.weight.requires_grad
    assert not module.net.features.conv2.weight.requires_grad
    assert "1 start fresh (features.conv1.weight)" in t.line()


def test_onecycle_keeps_the_backbones_smaller_learning_rate(faces_ckpt, cfg_factory):
    cfg = cfg_factory("data=digits", "model=lenet5", "model.norm=batch", f"transfer.checkpoint={faces_ckpt}",
                      "scheduler=onecycle", "trainer.max_epochs=1", "babysit.preflight=false", "babysit.report=false")
    run(cfg)
    lrs = pd.read_csv(Path(cfg.paths.output_dir, "metrics.csv"))
    backbone, head = lrs["lr-Adam/backbone"].dropna(), lrs["lr-Adam/head"].dropna()
    assert len(backbone) and (backbone.to_numpy() / head.to_numpy() == pytest.approx(0.1))


def test_weights_nested_one_level_down_are_found(faces_ckpt, cfg_factory, tmp_path):
    net, _ = load_network(faces_ckpt)
    nested = tmp_path / "nested.pth"
    torch.save({"epoch": 3, "model": net.state_dict()}, nested)
    _, module, _ = build(cfg_factory(*SOURCE, f"transfer.checkpoint={nested}"))
    assert torch.equal(module.net.features.conv1.weight, net.features.conv1.weight)


def test_a_checkpoint_cannot_make_export_build_anything_but_a_model(faces_ckpt, tmp_path):
    ckpt = read(faces_ckpt)
    ckpt["babysit"]["model"] = {"_target_": "pathlib.Path.unlink", "self": str(tmp_path / "victim")}
    (tmp_path / "victim").write_text("keep me")
    crafted = tmp_path / "crafted.ckpt"
    torch.save(ckpt, crafted)
    with pytest.raises(BabysitError, match="not one of babysit's models"):
        export(crafted, "onnx", tmp_path / "x.onnx")
    assert (tmp_path / "victim").is_file()


def test_files_that_are_not_weights_get_one_line(tmp_path):
    for name, content in (("metrics.csv", b"epoch,step\n0,1\n"), ("hello.txt", b"hello"), ("empty.ckpt", b"")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(BabysitError, match=f"{name} is not a torch checkpoint or weights file"):
            read(tmp_path / name)


@pytest.mark.parametrize(("stem", "fresh"), [("imagenet", []), ("cifar", ["conv1.weight"])])
def test_a_torchvision_weights_file_loads_into_resnet_tv_by_name(tmp_path, cfg_factory, stem, fresh):
    import torchvision

    source = torchvision.models.resnet18(weights=None)  # the ImageNet layout: 1000 classes, 7×7 stem
    weights = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), weights)
    write_cifar(tmp_path / "data", per_batch=4)
    _, module, _ = build(cfg_factory("data=cifar10", f"paths.data_dir={tmp_path / 'data'}", "model=resnet_tv",
                                     f"model.stem={stem}", f"transfer.checkpoint={weights}", "transfer.mode=freeze"))
    t = module.transfer
    assert t.head == "fc" and module.net.fc.out_features == 10
    assert t.fresh == fresh and len(t.loaded) == len(source.state_dict()) - 2 - len(fresh)
    assert torch.equal(module.net.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    assert not module.net.layer4[1].conv2.weight.requires_grad and module.net.fc.weight.requires_grad


def test_a_checkpoint_without_a_description_is_described_by_its_run_directory(faces_ckpt, tmp_path):
    run_dir = tmp_path / "older_run"
    shutil.copytree(faces_ckpt.parent.parent, run_dir, symlinks=True)
    (run_dir / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(make_cfg(SOURCE, run_dir), run_dir / ".hydra" / "config.yaml")  # as train.py writes it
    ckpt_path = run_dir / "checkpoints" / "older.ckpt"
    ckpt = read(faces_ckpt)
    del ckpt["babysit"]
    torch.save(ckpt, ckpt_path)
    net, meta = load_network(ckpt_path)
    assert meta == read(faces_ckpt)["babysit"]
    (run_dir / "summary.json").unlink()
    with pytest.raises(BabysitError, match="carries no model description and has no run directory"):
        load_network(ckpt_path)
