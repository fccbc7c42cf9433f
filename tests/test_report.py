import json
import math
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from babysit.report import write_report
from babysit.report.__main__ import main as report_main
from babysit.report.ablation import write_ablation_report
from babysit.report.variants import load_variants
from babysit.run import run
from tests.cli import ROOT, train
from tests.needs import needs


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings, self.images, self.text = [], [], []
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2"):
            self._in_heading = True
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in ("h1", "h2"):
            self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings.append(data.strip())
        self.text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    return page


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from tests.conftest import make_cfg

    cfg = make_cfg(["data=faces", "model=lenet5", "trainer.max_epochs=4"], tmp_path_factory.mktemp("run"))
    run(cfg)
    return Path(cfg.paths.output_dir)


def test_run_report_has_every_section_and_figure(finished_run):
    page = parse(finished_run / "report.html")
    assert page.headings[0].startswith("Babysitting report: LeNet5 on faces")
    for section in ("Preflight checks", "Training", "Monitoring verdicts", "What to try next"):
        assert section in page.headings
    names = {img["alt"] for img in page.images}
    assert {"preflight_initial_loss", "preflight_overfit", "preflight_lr_range", "preflight_lr_bounds", "train_cost",
            "train_accuracy", "train_update_ratio", "train_norms", "train_dead_units"} <= names
    assert "train_lr" not in names  # no schedule: the header's lr says it all
    assert all(img["src"].startswith("data:image/png;base64,") for img in page.images)  # self-contained
    md = (finished_run / "report.md").read_text()
    assert all((finished_run / "figures" / f"{n}.png").is_file() for n in names)
    assert "figures/train_accuracy.png" in md


def test_the_learning_rate_is_drawn_when_a_schedule_changes_it(tmp_path):
    import pandas as pd

    from babysit.report.load import RunData
    from babysit.report.training_figures import learning_rate

    steps = pd.DataFrame({"step": [0, 10, 20], "lr-SGD": [0.1, 0.097, 0.094]})
    assert learning_rate(RunData(tmp_path, {}, steps), tmp_path).is_file()
    constant = steps.assign(**{"lr-SGD": 0.1})
    assert learning_rate(RunData(tmp_path, {}, constant), tmp_path / "constant") is None


def test_report_numbers_are_the_summary_numbers(finished_run):
    summary = json.loads((finished_run / "summary.json").read_text())
    text = "".join(parse(finished_run / "report.html").text)
    assert f"val/acc {summary['final']['val/acc']:.4f}" in text
    init = next(c for c in summary["preflight"]["checks"] if c["check"] == "initial_loss")
    assert init["message"] in text
    for verdict in summary["monitors"]["verdicts"]:
        assert verdict["message"] in text


def test_exploded_run_gets_a_report_that_says_so(tmp_path):
    from tests.conftest import make_cfg

    cfg = make_cfg(["data=digits", "model=fc3", "optimizer=sgd", "optimizer.lr=1e6", "babysit.preflight=false",
                    "trainer.max_epochs=3"], tmp_path / "run")
    run(cfg)
    md = (tmp_path / "run" / "report.md").read_text()
    assert "**Status: exploded**" in md
    assert "The cost exploded" in md and "divide optimizer.lr by 10" in md


def comparable(report: Path) -> str:
    """A report's text less what a rebuild in another folder may change: the figures' bytes, the run dir
    it names, and the wall time (the run writes its report before its wall time is final)."""
    text = re.sub(r'data:image/png;base64,[^"]*', "", report.read_text())
    text = re.sub(rf"run dir (`|<code>){re.escape(str(report.parent))}", r"run dir \1…", text)
    return re.sub(r"epoch\(s\) in [\d.]+ s", "epoch(s) in … s", text)


def test_report_module_rebuilds_a_run_dir(finished_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy, symlinks=True)
    for built in ("report.html", "report.md"):
        (copy / built).unlink()
    shutil.rmtree(copy / "figures")
    result = subprocess.run([sys.executable, "-m", "babysit.report", str(copy)], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    for report in ("report.md", "report.html"):  # every number and word, every figure by name
        assert comparable(copy / report) == comparable(finished_run / report), report
    figures = [sorted(p.name for p in (d / "figures").iterdir()) for d in (finished_run, copy)]
    assert figures[0] == figures[1] and len(figures[0]) >= 10
    bad = subprocess.run([sys.executable, "-m", "babysit.report", str(tmp_path / "nothing")], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "is not a directory" in bad.stderr


def test_interrupted_run_keeps_a_report_of_what_happened(finished_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy, symlinks=True)
    summary = json.loads((copy / "summary.json").read_text())
    summary["status"] = "interrupted"
    (copy / "summary.json").write_text(json.dumps(summary))
    md = Path(write_report(copy)).with_suffix(".md").read_text()
    assert "**Status: interrupted**" in md and "up to that point" in md


def test_ablation_compares_four_variants(tmp_path):
    result = train("-m", "experiment=ablation", "data=digits", "model=fc3", "trainer.max_epochs=2",
                   f"hydra.sweep.dir={tmp_path / 'ablation'}", run_dir=tmp_path / "unused", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    md = (tmp_path / "ablation" / "ablation_report.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| data.normalize=")]
    assert len(rows) == 4
    assert {"data.normalize=none, augment=none", "data.normalize=meanstd, augment=standard"} <= {
        r.split(" | ")[0].lstrip("| ") for r in rows}
    assert len(parse(tmp_path / "ablation" / "ablation_report.html").images) == 1
    assert write_ablation_report(tmp_path / "ablation").is_file()



def _table_rows(md: str) -> list[list[str]]:
    rows = [line.strip("| ").split(" | ") for line in md.splitlines() if line.startswith("| model.")]
    return [[cell.strip() for cell in row] for row in rows]


def test_norm_init_study_has_one_row_per_variant_and_skips_what_the_model_lacks(tmp_path):
    sweep = tmp_path / "study"
    result = train("-m", "experiment=norm_init_study", "model=vgg_small", "data=digits", "data.image_size=16",
                   "trainer.max_epochs=1", "model.norm=batch,none", "model.init=kaiming", "babysit.report=false",
                   f"hydra.sweep.dir={sweep}", run_dir=tmp_path / "unused", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("skipped in 1 job(s): the config has no model.zero_init_residual") == 2
    md = (sweep / "norm_init_report.md").read_text()
    assert md.startswith("# Normalisation × initialisation: VGGSmall on digits")
    rows = _table_rows(md)
    assert [r[0] for r in rows] == ["model.norm=batch", "model.norm=none"]
    assert all(r[8] == "finished" and r[7] == "1" for r in rows)
    assert all(abs(float(r[1]) - math.log(10)) < 0.1 for r in rows)  # initial loss ≈ ln C
    assert {img["alt"] for img in parse(sweep / "norm_init_report.html").images} == {
        "norm_init_curves", "norm_init_layers"}
    (sweep / "norm_init_report.md").unlink()
    (sweep / "norm_init.json").unlink()
    report_main([str(sweep)])  # python -m babysit.report <sweep_dir> tells the experiment from the overrides
    assert _table_rows((sweep / "norm_init_report.md").read_text()) == rows


def test_norm_init_study_adds_zero_init_residual_variants_for_resnets(tmp_path):
    sweep = tmp_path / "study"
    result = train("-m", "experiment=norm_init_study", "model=resnet20", "model.depth=8", "data=digits",
                   "data.image_size=16", "trainer.max_epochs=1", "model.norm=none", "model.init=kaiming",
                   "babysit.report=false", f"hydra.sweep.dir={sweep}", run_dir=tmp_path / "unused", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    labels = [r[0] for r in _table_rows((sweep / "norm_init_report.md").read_text())]
    assert labels == ["model.norm=none", "model.norm=batch, model.zero_init_residual=true",
                      "model.norm=none, model.zero_init_residual=true"]  # model.init=kaiming in all


def test_variants_are_labelled_by_the_overrides_that_differ(tmp_path):
    for job, overrides in enumerate([["a.x=1", "b=2", "data=digits"], ["a.x=3", "b=2", "data=digits"],
                                     ["a.x=1", "b=2", "data=digits", "a.y=true"]] + [["a.x=5", "b=2"]] * 8):
        (tmp_path / str(job) / ".hydra").mkdir(parents=True)
        (tmp_path / str(job) / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (tmp_path / str(job) / "summary.json").write_text(json.dumps({"status": "finished"}))
    variants = load_variants(tmp_path)
    assert [v.dir_name for v in variants][:3] == ["0", "1", "2"] and variants[-1].dir_name == "10"
    assert [v.label for v in variants[:3]] == ["a.x=1, data=digits", "a.x=3, data=digits",
                                               "a.x=1, data=digits, a.y=true"]
    assert variants[3].label == "a.x=5" and variants[2].settings == {"a.x": "1", "data": "digits", "a.y": "true"}

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@needs(CHROMIUM is not None, "no headless browser: apt-get install chromium to render the report")
def test_report_renders_in_a_headless_browser(finished_run, tmp_path):
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1100,3000", (finished_run / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 50_000, result.stderr[-2000:]
