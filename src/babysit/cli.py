"""The command line boundary: one clear line for every mistake a user can make."""

import re
import sys
from pathlib import Path

from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from babysit.errors import find_user_error

SKIP_GROUPS = {"hydra", "paths"}


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def check_group_choices(argv: list[str], conf_dir: Path) -> None:
    """Unknown option of a config group (e.g. model=lenet) → one line listing the options."""
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        folder = conf_dir / key
        if "." in key or key in SKIP_GROUPS or not folder.is_dir() or "(" in value:
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        for choice in value.split(","):
            if choice and choice != "null" and choice not in options:
                fail(f"unknown {key} '{choice}': choose one of {', '.join(options)} (e.g. {key}={options[0]})")


def check_overrides(argv: list[str], conf_dir: Path) -> None:
    """A misspelt or unknown key (optimizer.lrr=1, data.bach_size=8) → one line, before Hydra
    prints its own several-line message. Sweep overrides (a,b / range) are left to the sweeper."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides([a for a in argv if not a.startswith("-")])
    except HydraException as e:
        fail(f"cannot read the command line: {str(e).strip().splitlines()[0]}")
    plain = [o.input_line for o in parsed if not o.is_sweep_override() and not o.key_or_group.startswith("hydra")]
    try:
        with initialize_config_dir(config_dir=str(Path(conf_dir).resolve()), version_base="1.3"):
            compose("train", overrides=plain)
    except HydraException as e:
        message = str(e).strip().splitlines()[0]
        unknown = re.match(r"Could not override '(.+)'", message)
        if unknown:
            key = unknown.group(1)
            fail(f"unknown setting {key}: check its spelling (python train.py --cfg job lists every key), "
                 f"or add it with +{key}=…")
        fail(f"config: {message}")


def report_user_errors(job):
    """Run `job()`; a user error ends the program with one line and exit code 2."""
    try:
        return job()
    except MissingMandatoryValue as e:
        fail(f"{e.full_key} is not set: add {e.full_key}=<value> to the command")
    except OmegaConfBaseException as e:
        fail(f"config: {str(e).splitlines()[0]}")
    except Exception as e:
        user_error = find_user_error(e)
        if user_error is None:
            raise
        fail(str(user_error))
