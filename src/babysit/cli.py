"""The command line boundary: one clear line for every mistake a user can make."""

import re
import sys
from pathlib import Path

import yaml
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


def check_command_line(argv: list[str], conf_dir: Path) -> None:
    """What train.py checks before Hydra starts (so that a mistake writes nothing): the group
    options, a sweep group without -m, unknown settings, and every value of the composed config
    against conf/schema.yaml, each of a sweep's values included. Any problem: one line, exit 2."""
    from hydra._internal.utils import get_args_parser

    args = get_args_parser().parse_args(argv)
    if (args.help or args.hydra_help or args.cfg or args.info or args.shell_completion or args.experimental_rerun
            or args.config_name or args.config_path or args.config_dir):
        return  # Hydra only prints something, or reads another config
    check_group_choices(args.overrides, conf_dir)
    parsed = parse_overrides(args.overrides)
    multirun = args.multirun or any(o.key_or_group == "hydra.mode" and str(o.value()) == "MULTIRUN" for o in parsed)
    sweeps = [o for o in parsed if o.is_sweep_override()]
    if not multirun:
        check_sweep_groups(parsed, conf_dir)
        if sweeps:
            fail(f"{sweeps[0].input_line} gives several values: add -m to run one job for each "
                 "(or write [a,b] for a list, 'a,b' for a string)")
    plain = [o for o in parsed if not o.is_sweep_override()]
    check_values(plain, conf_dir, multirun)
    for sweep in sweeps:
        for one in sweep_values(sweep):
            check_values(plain + [one], conf_dir, multirun)


def parse_overrides(overrides: list[str]) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides(overrides)
    except HydraException as e:
        fail(f"cannot read the command line: {str(e).strip().splitlines()[0]}")


def check_sweep_groups(parsed: list, conf_dir: Path) -> None:
    """A group option that sets up a sweep (its YAML configures hydra.sweeper, as hparams_search
    and experiment options do) only runs under -m: without it Hydra would train one default model."""
    for o in parsed:
        group = o.key_or_group
        if "." in group or "/" in group or o.is_delete() or not (conf_dir / group).is_dir():
            continue
        value = o.value()
        for option in value.list if hasattr(value, "list") else [value]:
            if isinstance(option, str) and sweeps(conf_dir / group, option):
                fail(f"{group}={option} runs a sweep of several jobs: add -m, "
                     f"e.g. python train.py -m {group}={option} …")


def sweeps(group_dir: Path, option: str, seen: frozenset = frozenset()) -> bool:
    """Whether conf/<group>/<option>.yaml (or an option of the group it builds on) configures a sweep."""
    path = group_dir / f"{option}.yaml"
    if option in seen or not path.is_file():
        return False
    doc = yaml.safe_load(path.read_text()) or {}
    if isinstance(doc.get("hydra"), dict) and "sweeper" in doc["hydra"]:
        return True
    for entry in doc.get("defaults") or []:
        names = list(entry) if isinstance(entry, dict) else [entry]
        if any(str(n).replace(" ", "").startswith("override/hydra/sweeper") for n in names):
            return True
        if isinstance(entry, str) and entry != "_self_" and sweeps(group_dir, entry, seen | {option}):
            return True
    return False


def sweep_values(sweep) -> list:
    """One override per value of a sweep (a,b,c or range(…)); none for the kinds only a sweeper expands."""
    try:
        values = list(sweep.sweep_string_iterator())
    except Exception:  # noqa: BLE001 - glob(…), interval(…): checked in each job instead
        return []
    return parse_overrides([f"{sweep.get_key_element()}={v}" for v in values])


def check_values(overrides: list, conf_dir: Path, multirun: bool = False) -> None:
    """Compose (unknown keys: one line) and check every value against conf/schema.yaml."""
    from hydra.errors import HydraException

    from babysit.compose import composed, hydra_config, is_group
    from babysit.errors import BabysitError
    from babysit.schema import check_config

    typed = [o.key_or_group for o in overrides if not is_group(o, conf_dir)]
    try:
        with composed(overrides, conf_dir, multirun) as cfg, hydra_config(cfg):
            check_config(cfg, conf_dir, typed=typed)
    except HydraException as e:
        fail(hydra_error(e))
    except BabysitError as e:
        fail(str(e))


def hydra_error(e: Exception) -> str:
    """Hydra's composition error in one line; an unknown key says how to add it."""
    message = str(e).strip().splitlines()[0]
    unknown = re.match(r"Could not override '(.+)'", message)
    if unknown:
        key = unknown.group(1)
        return (f"unknown setting {key}: check its spelling (python train.py --cfg job lists every key), "
                f"or add it with +{key}=…")
    cause = e.__cause__ or e.__context__
    if cause is not None and str(cause).strip():
        message = f"{message}: {str(cause).strip().splitlines()[0]}"
    return f"config: {message}"


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
