"""conf/schema.yaml: every key of every composed config declares what it accepts, and the
checks say so in one line."""

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from babysit.schema import SPEC_FIELDS, Schema
from tests.fuzz_cases import AUTOPILOT, CONF, SWEEP, Folders, check_in_process, contexts, keys_of

TYPES = {"int", "float", "bool", "str", "path", "file", "dir", "list", "dict", "target", "key", "search_space", "any"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return Folders.empty(tmp_path_factory.mktemp("in"))


def _choices(context) -> dict:
    from babysit.cli import parse_overrides
    from babysit.compose import composed

    with composed(parse_overrides([o for o in context if not o.startswith("-")]), CONF) as cfg:
        return dict(cfg.hydra.runtime.choices)


@pytest.mark.parametrize("context", contexts(), ids=lambda c: " ".join(c) or "defaults")
def test_every_key_declares_what_it_accepts(context, folders):
    schema, choices = Schema.load(CONF), _choices(context)
    undeclared = [k.name for k in keys_of(context, folders) if schema.spec(k.name, choices) is None]
    assert not undeclared, (f"conf/schema.yaml has no entry for {', '.join(undeclared)} "
                            f"({' '.join(context) or 'the defaults'}): declare the type and range of each")


def _specs():
    entries = yaml.safe_load((CONF / "schema.yaml").read_text())
    for key, entry in entries.items():
        if isinstance(entry, str):
            yield key, entry
        elif any("=" in str(k) or k == "*" for k in entry):
            yield from ((f"{key} [{when}]", spec) for when, spec in entry.items())
        else:
            yield key, entry


@pytest.mark.parametrize(("key", "spec"), list(_specs()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_entry_is_a_spec_with_an_example(key, spec):
    schema = Schema.load(CONF)
    if isinstance(spec, str):
        assert schema.entry(spec) is not None, f"{key} has the spec of {spec}, which has none"
        return
    if spec == {}:  # not checked under this option
        return
    assert set(spec) <= SPEC_FIELDS, f"{key}: unknown fields {set(spec) - SPEC_FIELDS}"
    types = spec.get("type", "any")
    assert set(types if isinstance(types, list) else [types]) <= TYPES, key
    assert "e.g." in spec or spec.get("type") == "dict", f"{key} gives no example"


def test_the_examples_are_accepted(folders):
    """The value a message offers passes the check (illustrative paths with … aside)."""
    from babysit.cli import parse_overrides
    from babysit.compose import composed
    from babysit.schema import Context, Lookup

    schema, seen = Schema.load(CONF), set()
    for context in contexts():
        keys = [k for k in keys_of(context, folders) if k.name not in seen]
        with composed(parse_overrides([o for o in context if not o.startswith("-")]), CONF) as cfg:
            check = Context(schema, Lookup(cfg), dict(cfg.hydra.runtime.choices), set())
            for key in keys:
                seen.add(key.name)
                spec = schema.spec(key.name, check.choices)
                example = spec.get("e.g.")
                if "same_as" in spec or (isinstance(example, str) and ("…" in example or "${" in example)):
                    continue
                if isinstance(example, str):
                    example = OverridesParser.create().parse_override(f"k={example}").value()
                wrong = check.wrong(spec, _plain(example))
                assert wrong is None, f"{key.name}: its example {spec['e.g.']} {wrong}"
    assert len(seen) > 200


def _plain(value):
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.create({"v": value}))["v"] if isinstance(value, (dict, list)) else value


def test_the_choices_are_those_the_code_accepts():
    from babysit.data.normalize import MODES as NORMALIZE
    from babysit.models.layers import ACTIVATIONS, INITS, NORMS
    from babysit.models.torchvision_resnet import ARCHS, STEMS
    from babysit.search.space import TYPES as SEARCH
    from babysit.transfer import HEADS, MODES

    schema = Schema.load(CONF)
    expected = {"model.norm": NORMS, "model.init": INITS, "model.activation": tuple(ACTIVATIONS),
                "model.arch": ARCHS, "model.stem": STEMS, "transfer.mode": MODES, "transfer.head": HEADS,
                "data.normalize": NORMALIZE, "hydra.sweeper.params.optimizer.lr.type": SEARCH}
    for key, values in expected.items():
        assert sorted(schema.spec(key, {})["choices"]) == sorted(values), key


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["seed=-1"], "error: seed=-1 must be a whole number in [0, 4294967295], e.g. seed=42"),
        (["optimizer.lr=nan"], "error: optimizer.lr=nan must be a number above 0, e.g. optimizer.lr=1e-3"),
        (["trainer.max_epochs=2.5"], "error: trainer.max_epochs=2.5 must be a whole number ≥ 1, "
                                     "e.g. trainer.max_epochs=30"),
        (["babysit.range_test.start=100"], "error: babysit.range_test.start=100 must be a number above 0 and below "
                                           "babysit.range_test.end, e.g. babysit.range_test.start=1e-7"),
        (["model.num_classes=3"], "error: model.num_classes=3 must follow data.num_classes (2): leave it out and set "
                                  "data.num_classes instead, e.g. model.num_classes=${data.num_classes}"),
        (["model=fc3", "model.hidden=[100]"], "error: model.hidden=[100] must be a list of 2 whole numbers in "
                                              "[1, 100000], e.g. model.hidden=[100,100]"),
        (["optimizer=nesterov", "optimizer.momentum=0"], "error: optimizer.momentum=0 must be a number in (0, 1): "
                                                         "Nesterov needs momentum, e.g. optimizer.momentum=0.9"),
        (["data.image_size=${nope}"], "error: data.image_size=${nope} cannot be resolved (Interpolation key 'nope' not "
                                      "found): give a value, e.g. data.image_size=32"),
        (["trial.id=3"], "error: trial.id is set by babysit for each trial of a search: leave it out of the command"),
        (["model._target_=babysit.models.Nope"], "error: model._target_='babysit.models.Nope' cannot be imported"),
        (["transfer.checkpoint=/no/such.ckpt"], "error: transfer.checkpoint=/no/such.ckpt not found: give an existing "
                                                "file, e.g. transfer.checkpoint=outputs/runs/…/checkpoints/last.ckpt"),
        ([*SWEEP, "hydra.sweeper.params.reg.l2.low=-1", "hydra.sweeper.params.reg.l2.type=uniform"],
         "error: hydra.sweeper.params.reg.l2.low=-1 would set reg.l2=-1, which must be a number ≥ 0"),
        ([*SWEEP, "hydra.sweeper.stages=[]"], "error: hydra.sweeper.stages=[] must be a non-empty list"),
        ([*SWEEP, "hydra.sweeper.params.reg.l2.fallback=[1e-3,-1]"],
         "error: hydra.sweeper.params.reg.l2.fallback=[0.001, -1] must be [low, high] with low below high"),
        ([*SWEEP, "optimizer=sgd", "+hydra.sweeper.params.optimizer.momentum={type:uniform,low:0.5}"],
         "error: hydra.sweeper.params.optimizer.momentum needs low and high (the preflight measures only "
         "optimizer.lr and reg.l2)"),
        ([*AUTOPILOT, "hydra.sweeper.pipeline.preflight=false"],
         "error: hydra.sweeper.stages.0.epochs=null may be null only while hydra.sweeper.pipeline.preflight=true"),
        ([*SWEEP, "hydra.sweeper.pipeline.preflight=false", "hydra.sweeper.stages.0.epochs=2",
          "hydra.sweeper.stages.1.epochs=4"],
         "error: hydra.sweeper.params.optimizer.lr.low and .high are measured by the preflight, which "
         "hydra.sweeper.pipeline.preflight=false turns off: give both"),
        (["data.num_classes=null"], "error: data.num_classes=null must be a whole number in [2, 100000]"),
        (["data=folder", "data.root=/no/such/folder"], "error: data.root=/no/such/folder is not a folder"),
        (["model=custom"], "error: model._target_ is not set: add model._target_=… to the command, "
                           "e.g. model._target_=mypkg.nets.MyNet"),
        (["-m", "optimizer.lr=1e-3,0"], "error: optimizer.lr=0 must be a number above 0, e.g. optimizer.lr=1e-3"),
        (["optimizer.lr=1e-3,1e-2"], "error: optimizer.lr=1e-3,1e-2 gives several values: add -m to run one job"),
        (["hparams_search=random"], "error: hparams_search=random runs a sweep of several jobs: add -m"),
        (["experiment=norm_init_study"], "error: experiment=norm_init_study runs a sweep of several jobs: add -m"),
    ],
)
def test_a_bad_value_gets_one_line_naming_it(argv, line):
    outcome = check_in_process(argv)
    assert outcome.code == 2 and len(outcome.stderr.splitlines()) == 1, outcome
    assert outcome.stderr.startswith(line), outcome.stderr


@pytest.mark.parametrize("argv", [[], ["-m", "hparams_search=coarse_to_fine"], ["-m", "experiment=ablation"],
                                  [*AUTOPILOT], ["data=folder", f"data.root={CONF}", "data.num_classes=null"],
                                  ["model=custom", "model._target_=babysit.models.FC3", "+model.depth=3"],
                                  [*SWEEP, "hydra.sweeper.pipeline.preflight=false", "hydra.sweeper.stages.0.epochs=2",
                                   "hydra.sweeper.stages.1.epochs=4", "hydra.sweeper.params.optimizer.lr.low=1e-4",
                                   "hydra.sweeper.params.optimizer.lr.high=1e-2", "hydra.sweeper.params.reg.l2.low=0",
                                   "hydra.sweeper.params.reg.l2.high=1e-3", "hydra.sweeper.params.reg.l2.type=uniform"],
                                  ["reg.max_norm=null", "cv.folds=0", "trainer.devices=auto"],
                                  ["-m", "optimizer.lr=1e-3,1e-2", "model=fc3,lenet5"], ["--cfg", "job", "seed=-1"]])
def test_good_command_lines_pass(argv):
    assert check_in_process(argv).code == 0


def test_a_check_leaves_the_cached_config_as_it_was():
    for argv in (["optimizer.lr=0"], ["+optimizer.foo=1"], ["~callbacks.dead_units"], ["optimizer.lr=abc"],
                 [*SWEEP, "hydra.sweeper.top_k=0"]):
        check_in_process(argv)
    assert check_in_process([]).code == 0
    assert check_in_process(["callbacks.dead_units.interval=0"]).code == 2  # still there to be set
    assert check_in_process(["optimizer.foo=1"]).code == 2  # not added for good
    assert check_in_process([*SWEEP]).code == 0
