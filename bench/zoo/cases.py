"""The bug zoo's cases: each a `python train.py` command line carrying one planted bug (or none),
and the checks whose WARN/FAIL names its cause. A bug is caught when one of those fires; a
healthy reference must get no WARN/FAIL at all."""

from dataclasses import dataclass, field

MODELS = "model=custom model._target_=bench.zoo.models."
DATA = "data.source._target_=bench.zoo.data."


@dataclass(frozen=True)
class Case:
    name: str
    category: str  # the kind of bug ("healthy" for the references)
    overrides: tuple[str, ...]
    causes: frozenset[str] = field(default_factory=frozenset)  # checks whose WARN/FAIL names the cause

    @property
    def healthy(self) -> bool:
        return self.category == "healthy"


def _model(cls: str, *args: str) -> tuple[str, ...]:
    return (*f"{MODELS}{cls}".split(), *args)


def _data(data: str, fn: str, *args: str) -> tuple[str, ...]:
    return (f"data={data}", f"{DATA}{fn}", f"+data.source.name={data}", *args)


def bug(name: str, category: str, overrides: tuple[str, ...], *causes: str) -> Case:
    return Case(name, category, overrides, frozenset(causes))


BUGS = [
    bug("softmax before the loss (lenet5, faces)", "softmax before the loss",
        _model("SoftmaxOutput", "data=faces"), "raw_scores", "overfit_tiny"),
    bug("softmax before the loss (fc3, digits)", "softmax before the loss",
        _model("SoftmaxOutput", "+model.base=fc3", "data=digits"), "raw_scores", "overfit_tiny"),
    bug("logits scaled ×30 (lenet5, faces)", "logits scaled up",
        _model("ScaledLogits", "data=faces"), "initial_loss"),
    bug("head std 3 (fc3, digits)", "logits scaled up",
        ("model=fc3", "model.head_std=3.0", "data=digits"), "initial_loss"),
    bug("all-zero init (fc3, digits)", "constant init",
        _model("ConstantInit", "data=digits"), "parameters_learn"),
    bug("constant 0.05 init (fc3, faces)", "constant init",
        _model("ConstantInit", "+model.value=0.05", "data=faces"), "parameters_learn"),
    bug("first conv frozen (lenet5, faces)", "layer frozen by mistake",
        _model("FrozenLayer", "data=faces"), "parameters_learn"),
    bug("second layer frozen (fc3, digits)", "layer frozen by mistake",
        _model("FrozenLayer", "+model.base=fc3", "+model.layer=1", "data=digits"), "parameters_learn"),
    bug("forward uses zeros (lenet5, faces)", "model ignores its input",
        _model("IgnoresInput", "data=faces"), "input_dependence"),
    bug("forward uses a fixed template (fc3, digits)", "model ignores its input",
        _model("IgnoresInput", "+model.base=fc3", "+model.how=template", "data=digits"), "input_dependence"),
    bug("reshape over the batch (lenet5, faces)", "model mixes the batch",
        _model("MixesBatch", "data=faces"), "batch_independence"),
    bug("batch statistics at evaluation (fc3, digits)", "model mixes the batch",
        _model("MixesBatch", "+model.base=fc3", "+model.how=batch_norm", "data=digits"), "batch_independence"),
    bug("shuffled labels (lenet5, faces)", "labels do not match the images",
        _data("faces", "shuffled_labels"), "label_sanity", "train_val_gap"),
    bug("shuffled labels (fc3, digits)", "labels do not match the images",
        ("model=fc3", *_data("digits", "shuffled_labels")), "label_sanity", "train_val_gap"),
    bug("every image twice (lenet5, faces)", "test images in train",
        _data("faces", "duplicated"), "duplicates"),
    bug("near copies (fc3, digits)", "test images in train",
        ("model=fc3", *_data("digits", "duplicated", "+data.source.noise=0.01")), "duplicates"),
    bug("raw 0-255 pixels (lenet5, faces)", "raw unnormalised pixels",
        _data("faces", "raw_pixels", "data.normalize=none"), "input_statistics"),
    bug("raw 0-255 pixels (fc3, digits)", "raw unnormalised pixels",
        ("model=fc3", *_data("digits", "raw_pixels", "data.normalize=none")), "input_statistics"),
    bug("faces 9:1 (lenet5)", "imbalanced classes",
        _data("faces", "imbalanced"), "class_balance"),
    bug("one digit 9× the others (fc3)", "imbalanced classes",
        ("model=fc3", *_data("digits", "imbalanced")), "class_balance"),
    bug("lr 10 (sgd, lenet5, faces)", "learning rate far too high",
        ("optimizer=sgd", "optimizer.lr=10", "data=faces"), "explosion", "lr_range"),
    bug("lr 3 (adam, fc3, digits)", "learning rate far too high",
        ("model=fc3", "optimizer.lr=3", "data=digits"), "explosion", "lr_range", "update_ratio"),
    bug("lr 1e-7 (adam, lenet5, faces)", "learning rate far too low",
        ("optimizer.lr=1e-7", "data=faces"), "loss_progress", "lr_range", "update_ratio"),
    bug("lr 1e-6 (sgd, fc3, digits)", "learning rate far too low",
        ("model=fc3", "optimizer=sgd", "optimizer.lr=1e-6", "data=digits"), "loss_progress", "lr_range",
        "update_ratio"),
    bug("reg.l2=10 (lenet5, faces)", "regularisation too strong",
        ("reg.l2=10", "data=faces"), "reg_balance"),
    bug("reg.l2=100 (fc3, digits)", "regularisation too strong",
        ("model=fc3", "reg.l2=100", "data=digits"), "reg_balance"),
    bug("biases −10 (fc3, digits)", "dead ReLUs",
        _model("NegativeBias", "data=digits"), "dead_units", "parameters_learn"),
    bug("biases −5 (lenet5, faces)", "dead ReLUs",
        _model("NegativeBias", "+model.base=lenet5", "+model.bias=-5", "data=faces"), "dead_units",
        "parameters_learn"),
    bug("8 sigmoid layers, std 0.01 (digits)", "vanishing gradients",
        _model("DeepSaturating", "data=digits"), "vanishing_gradients"),
    bug("10 tanh layers, std 0.01 (faces)", "vanishing gradients",
        _model("DeepSaturating", "+model.depth=10", "+model.activation=tanh", "data=faces"), "vanishing_gradients"),
    bug("dropout at evaluation (lenet5, faces)", "dropout or batch norm at evaluation",
        _model("DropoutAtEval", "data=faces"), "eval_determinism"),
    bug("dropout at evaluation (fc3, digits)", "dropout or batch norm at evaluation",
        _model("DropoutAtEval", "+model.base=fc3", "+model.p=0.5", "data=digits"), "eval_determinism"),
    bug("batch norm statistics at evaluation (lenet5, faces)", "dropout or batch norm at evaluation",
        _model("MixesBatch", "+model.how=batch_norm", "data=faces"), "batch_independence"),
    bug("summed loss (lenet5, faces)", "loss summed, not averaged",
        ("+loss.reduction=sum", "data=faces"), "initial_loss"),
    bug("summed loss (fc3, digits)", "loss summed, not averaged",
        ("model=fc3", "+loss.reduction=sum", "data=digits"), "initial_loss"),
]

HEALTHY = [Case(f"{model}, {data}{', augmented' if augment else ''}", "healthy",
                (f"model={model}", f"data={data}", *(["augment=standard"] if augment else [])))
           for data in ("faces", "digits") for model in ("lenet5", "fc3") for augment in (False, True)]
HEALTHY.append(Case("resnet20, digits", "healthy", ("model=resnet20", "data=digits")))

CASES = BUGS + HEALTHY


def fired(summary: dict) -> list[dict]:
    """Every WARN/FAIL of a run: the preflight's checks and the monitors' verdicts."""
    verdicts = list((summary.get("preflight") or {}).get("checks", []))
    verdicts += (summary.get("monitors") or {}).get("verdicts", [])
    return [v for v in verdicts if v["status"] in ("WARN", "FAIL")]


def caught(case: Case, summary: dict) -> bool:
    return any(v["check"] in case.causes for v in fired(summary))
