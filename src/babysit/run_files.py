"""The files of a run directory that one part writes and another reads."""

PREVIEW = "preflight_batch.npz"  # a training batch as the network sees it (the preflight writes it)
PREDICTIONS = "test_predictions.npz"  # test labels, predictions, confidences, the most confident mistakes
RESOLVED_CONFIG = "config_resolved.yaml"  # the run's config with every interpolation resolved
