"""Hydra sweeper plugin: `hydra/sweeper=coarse_to_fine` (see conf/hparams_search/)."""
