"""Train one model with every babysitting check:  python train.py model=lenet5 data=faces"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from babysit.cli import check_group_choices, check_overrides, report_user_errors
from babysit.resume import expand_argv


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from babysit.run import run

    return report_user_errors(lambda: run(cfg))


if __name__ == "__main__":
    sys.argv[1:] = report_user_errors(lambda: expand_argv(sys.argv[1:]))  # resume=<run dir>: its own settings
    check_group_choices(sys.argv[1:], Path(__file__).parent / "conf")
    check_overrides(sys.argv[1:], Path(__file__).parent / "conf")
    main()
