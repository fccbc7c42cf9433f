"""ablation_report.md / .html: runs of one sweep that differ in preprocessing and
augmentation, side by side (protocol step 1)."""

from pathlib import Path

from babysit.report.comparison import Comparison, ComparisonReport, write_comparison_report

ABLATION = Comparison(
    name="ablation",
    title="Ablation: preprocessing × augmentation ({sweep})",
    intro="Same seed, data split, model and epoch budget; only the variant differs.",
    notes="Train accuracy is measured without augmentation on the checkpoint chosen by val accuracy; "
          "the final cost is the last epoch's mean training cost (with augmentation where it is on).",
)


def write_ablation_report(sweep_dir: str | Path) -> Path:
    return write_comparison_report(sweep_dir, ABLATION)


class AblationReport(ComparisonReport):
    """Hydra callback: writes the ablation report when the multirun ends."""

    comparison = ABLATION
