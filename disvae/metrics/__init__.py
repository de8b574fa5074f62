"""Disentanglement metrics, one file per family; every one takes a representation
(indices -> posterior means, log-variances), a ground-truth dataset and a numpy RNG.

The registry is every MetricFamily (family.py) declared in a module of this folder,
found when the package is imported. Adding a metric: one file with its function and
its `FAMILY = MetricFamily(...)`; plus its test.
"""
import time
import zlib

import numpy as np

from disvae.metrics.family import MetricFamily
from disvae.metrics.representation import FunctionRepresentation, ModelRepresentation
from disvae.registry import discover


FAMILIES = dict(sorted(discover(__name__, __path__, lambda value, module: isinstance(value, MetricFamily),
                             "metric families").items(), key=lambda item: item[1].order))  # in table order
METRICS = {name: family.compute for name, family in FAMILIES.items()}  # name -> function
DEFAULT_METRICS = [name for name, family in FAMILIES.items() if family.default]  # --is-metrics alone
METRIC_LABELS = {key: label for family in FAMILIES.values() for key, label in family.labels.items()}
HEADLINE_METRICS = [key for family in FAMILIES.values() for key in family.headline]


def family_rng(seed, name):
    """The generator of family `name`: seeded by the run's seed and the family's name, so
    that adding, removing or skipping a family changes no other family's numbers."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def quick_counts(n):
    """Per-family keyword arguments that cap every metric at about `n` points (quick checks)."""
    return {name: family.quick(n) for name, family in FAMILIES.items()}


def compute_metrics(representation, dataset, rng, names=None, logger=None, **kwargs):
    """{metric: value} for `names` (default all), with each family's time in seconds.
    kwargs: per-family keyword arguments, e.g. dci={"n_train": 1000}."""
    results, timings = {}, {}
    for name in names or DEFAULT_METRICS:
        start = time.perf_counter()
        results.update(METRICS[name](representation, dataset, rng, **kwargs.get(name, {})))
        timings[name] = round(time.perf_counter() - start, 3)
        if logger is not None:
            logger.info("metric %s: %.1f s", name, timings[name])
    results["seconds"] = timings
    return results


__all__ = ["DEFAULT_METRICS", "FAMILIES", "HEADLINE_METRICS", "METRICS", "METRIC_LABELS", "FunctionRepresentation",
           "MetricFamily", "ModelRepresentation", "compute_metrics", "family_rng", "quick_counts"]
