import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

os.environ.setdefault("MPLBACKEND", "Agg")


def make_cfg(overrides: list[str], out_dir: Path) -> DictConfig:
    """Compose conf/train.yaml as `python train.py <overrides>` would, writing to out_dir."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(out_dir)
        del cfg.hydra
    return cfg


@pytest.fixture
def cfg_factory(tmp_path):
    def factory(*overrides: str, out: str = "run") -> DictConfig:
        return make_cfg(list(overrides), tmp_path / out)

    return factory
