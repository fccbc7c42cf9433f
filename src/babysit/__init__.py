"""babysit: babysit the training of deep networks on PyTorch Lightning + Hydra.

    from babysit import Babysitter
    trainer = pl.Trainer(callbacks=[Babysitter()])
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Babysitter":  # imported on first use: `import babysit` stays light
        from babysit.callbacks import Babysitter

        return Babysitter
    raise AttributeError(f"module 'babysit' has no attribute {name!r}")
