"""The command line boundary: one clear line for every mistake a user can make."""

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
