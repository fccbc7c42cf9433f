"""Lightning callbacks, one concern each; every one works alone in any Lightning project."""

from babysit.callbacks.babysitter import Babysitter
from babysit.callbacks.dead_units import DeadUnits
from babysit.callbacks.epoch_line import EpochLine, format_epoch_line
from babysit.callbacks.explosion import ExplosionStop
from babysit.callbacks.loss_progress import LossProgress
from babysit.callbacks.resume import ResumeCheckpoint, TrainingInterrupted
from babysit.callbacks.train_val_gap import TrainValGap
from babysit.callbacks.update_ratio import UpdateRatio
from babysit.callbacks.weight_stats import WeightGradStats

__all__ = ["Babysitter", "DeadUnits", "EpochLine", "ExplosionStop", "LossProgress", "ResumeCheckpoint",
           "TrainValGap", "TrainingInterrupted", "UpdateRatio", "WeightGradStats", "format_epoch_line"]
