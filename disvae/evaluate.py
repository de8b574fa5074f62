"""Evaluation of a trained model: every (sub-)loss over the whole evaluation data in
eval mode (test_losses.log), and disentanglement metrics (metrics.log)."""
import os
import time

import numpy as np
import torch

from disvae.metrics import ModelRepresentation, compute_metrics
from utils.io import atomic_write_json


@torch.no_grad()
def compute_test_losses(model, loss_f, loader, device="cpu"):
    """Mean of every logged (sub-)loss over all batches, weighted by batch size."""
    model.eval()
    loss_f.eval()
    sums, n_seen = {}, 0
    for x in loader:
        x = x.to(device)
        _, logs = loss_f(model, x)
        for name, value in logs.items():
            sums[name] = sums.get(name, 0.0) + value.double() * len(x)
        n_seen += len(x)
    loss_f.train()
    return {name: float(total) / n_seen for name, total in sums.items()}


def sample_counts(n):
    """Per-family keyword arguments that cap every metric at about `n` points (quick checks)."""
    return {"mig": {"n_points": n}, "dci": {"n_train": n, "n_test": n // 2}, "sap": {"n_train": n, "n_test": n // 2},
            "factorvae": {"n_train": n, "n_test": n // 2, "n_std": n}, "betavae": {"n_train": n, "n_test": n // 2},
            "research": {"n_bases": max(4, min(64, n // 100))}}


def write_metrics(model, dataset, save_dir, device, names=None, batch_size=1000, seed=0, logger=None,
                  n_samples=None):
    """Compute the metrics (standard sample counts unless `n_samples`) and write metrics.log."""
    start = time.perf_counter()
    kwargs = sample_counts(n_samples) if n_samples else {}
    representation = ModelRepresentation(model, dataset, device, batch_size)
    results = compute_metrics(representation, dataset, np.random.default_rng(seed), names, logger, **kwargs)
    results["n_encoded"] = representation.n_encoded
    results["sample_counts"] = "standard" if not n_samples else f"at most {n_samples} points"
    results["seconds"]["total"] = round(time.perf_counter() - start, 3)
    atomic_write_json(os.path.join(save_dir, "metrics.log"), results)
    return results
