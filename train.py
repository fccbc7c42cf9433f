"""Train one model with every babysitting check:  python train.py model=lenet5 data=faces"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from babysit.cli import check_command_line, report_user_errors
from babysit.resume import expand_argv

CONF = Path(__file__).parent / "conf"


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from babysit.run import run
    from babysit.schema import check_config

    # the command line was checked before Hydra started; a sweep's jobs get their values here
    return report_user_errors(lambda: run(check_config(cfg, CONF)))


if __name__ == "__main__":
    sys.argv[1:] = report_user_errors(lambda: expand_argv(sys.argv[1:]))  # resume=<run dir>: its own settings
    check_command_line(sys.argv[1:], CONF)
    main()
