"""Hydra sweeper plugin: `hydra/sweeper=variants`, a grid plus variants listed explicitly (see conf/experiment/)."""
