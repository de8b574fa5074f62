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


def write_metrics(model, dataset, save_dir, device, names=None, batch_size=1000, seed=0, logger=None, **kwargs):
    start = time.perf_counter()
    representation = ModelRepresentation(model, dataset, device, batch_size)
    results = compute_metrics(representation, dataset, np.random.default_rng(seed), names, logger, **kwargs)
    results["n_encoded"] = representation.n_encoded
    results["seconds"]["total"] = round(time.perf_counter() - start, 3)
    atomic_write_json(os.path.join(save_dir, "metrics.log"), results)
    return results
