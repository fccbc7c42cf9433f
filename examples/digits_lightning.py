"""A plain Lightning project (no Hydra, no babysit data or model) babysat by one callback.

    python examples/digits_lightning.py [--epochs 10] [--out lightning_logs]

A small CNN learns scikit-learn's 8×8 digits from its own DataLoaders; `Babysitter()` adds
the preflight, the lecture's epoch lines, the monitors, and writes babysit.json and
report.html into the trainer's log dir.
"""

import argparse

import lightning.pytorch as pl
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset, random_split

from babysit import Babysitter


class DigitsData(pl.LightningDataModule):
    def __init__(self, batch_size: int = 64):
        super().__init__()
        self.batch_size = batch_size

    def setup(self, stage: str | None = None) -> None:
        digits = load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        x = (x - x.mean()) / x.std()
        data = TensorDataset(x, torch.tensor(digits.target))
        self.train, self.val = random_split(data, [0.8, 0.2], generator=torch.Generator().manual_seed(0))

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=256)


class SmallCNN(pl.LightningModule):
    def __init__(self, lr: float = 1e-3):
        super().__init__()
        self.save_hyperparameters()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 2 * 2, 10)
        nn.init.normal_(self.fc.weight, std=1e-3)  # small output weights: the loss starts at ln 10

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        self.log("train/acc", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val/loss", F.cross_entropy(logits, y))
        self.log("val/acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="lightning_logs")
    args = parser.parse_args()
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(max_epochs=args.epochs, default_root_dir=args.out, accelerator="cpu", devices=1,
                         enable_progress_bar=False, enable_model_summary=False, logger=pl.loggers.CSVLogger(args.out),
                         callbacks=[Babysitter()])
    trainer.fit(SmallCNN(), datamodule=DigitsData())


if __name__ == "__main__":
    main()
