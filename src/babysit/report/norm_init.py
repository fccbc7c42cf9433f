"""norm_init_report.md / .html: one model trained with every normalisation × initialisation
(and zero-initialised residual blocks where the model has them), side by side."""

from pathlib import Path

from babysit.report.comparison import Comparison, ComparisonReport, write_comparison_report

NORM_INIT = Comparison(
    name="norm_init",
    title="Normalisation × initialisation: {model} on {data} ({sweep})",
    intro="Same seed, data split, optimiser and epoch budget; only the variant differs. The initial loss is "
          "the data loss of the first training step, before any update: with softmax it should start near "
          "ln C = {ln_c:.4f} ({classes} classes); far above it, the initialisation makes the logits too large. "
          "A run whose cost exceeds 3 × its initial cost (or turns NaN) is stopped and marked exploded.",
    notes="Left: the gradient each layer gets at initialisation; vanishing gradients show as a curve orders of "
          "magnitude below the others, or one that falls towards the input (small Gaussian weights without "
          "normalisation). Right: how far the optimiser moves each layer relative to its size, about 1e-3 when the "
          "learning rate suits the layer; weights that start at zero (zero_init_residual with norm=none) or tiny "
          "(small_gaussian) move by far more than that at first. Accuracies are those of the checkpoint chosen by "
          "val accuracy; the final cost is the last epoch's mean training cost.",
    layer_figure=True,
)


def write_norm_init_report(sweep_dir: str | Path) -> Path:
    return write_comparison_report(sweep_dir, NORM_INIT)


class NormInitReport(ComparisonReport):
    """Hydra callback: writes the norm × init report when the multirun ends."""

    comparison = NORM_INIT
