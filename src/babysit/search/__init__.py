"""Coarse-to-fine hyper-parameter search: ranges, stages and the sweep's outputs."""
