"""Lightning callbacks, one concern each; every one works alone in any Lightning project."""

from babysit.callbacks.epoch_line import EpochLine, format_epoch_line

__all__ = ["EpochLine", "format_epoch_line"]
