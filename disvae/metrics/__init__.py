"""Disentanglement metrics, one file per family; every one takes a representation
(indices -> posterior means, log-variances), a ground-truth dataset and a numpy RNG."""
import time

from disvae.metrics.dci import dci
from disvae.metrics.mig import mig_aam
from disvae.metrics.representation import FunctionRepresentation, ModelRepresentation
from disvae.metrics.research import research_metrics
from disvae.metrics.sap import sap
from disvae.metrics.scores import beta_vae_score, factor_vae_score

METRICS = {
    "mig": mig_aam,  # MIG and AAM, both estimators
    "dci": dci,
    "sap": sap,
    "factorvae": factor_vae_score,
    "betavae": beta_vae_score,
    "research": research_metrics,  # ground-truth correlation, linearity and axis-alignment ratios
}


def compute_metrics(representation, dataset, rng, names=None, logger=None, **kwargs):
    """{metric: value} for `names` (default all), with each family's time in seconds.
    kwargs: per-family keyword arguments, e.g. dci={"n_train": 1000}."""
    results, timings = {}, {}
    for name in names or list(METRICS):
        start = time.perf_counter()
        results.update(METRICS[name](representation, dataset, rng, **kwargs.get(name, {})))
        timings[name] = round(time.perf_counter() - start, 3)
        if logger is not None:
            logger.info("metric %s: %.1f s", name, timings[name])
    results["seconds"] = timings
    return results


__all__ = ["METRICS", "FunctionRepresentation", "ModelRepresentation", "compute_metrics"]
