"""babysit: babysit the training of deep networks on PyTorch Lightning + Hydra."""

__version__ = "0.1.0"
