"""Evaluation of a trained model: every (sub-)loss over the whole evaluation data in
eval mode (test_losses.log), and disentanglement metrics (metrics.log).

metrics.log is rewritten (atomically) after each metric family, with the family's
seconds and what it was computed from (`families`: a checksum of the model weights,
the sample counts, the seed and how families are seeded, the family's version, the keys
it wrote). A later run reuses a family computed from the same weights, sample counts,
seed and version, so an interrupted evaluation resumes where it stopped; changed weights
or counts, or a family whose definition changed since (MetricFamily.version), recompute it.
"""
import hashlib
import os
import time

import torch
from tqdm import tqdm

from disvae.errors import DisvaeError
from disvae.io import atomic_write_json
from disvae.metrics import (DEFAULT_METRICS, FAMILIES, METRICS, ModelRepresentation, compute_metrics,
                            family_rng)
from disvae.phases import keep, phase
from disvae.results import METRICS_FILE, read_metrics, scalar_metrics

# how each family's generator is seeded (families recorded without it, seeded by their
# position in the registry, are recomputed)
SEEDING = "by name"


def family_provenance(provenance, name):
    """What a family's entry in metrics.log must match to be reused (a missing version reads as 1)."""
    return dict(provenance, version=FAMILIES[name].version)


@torch.no_grad()
def compute_test_losses(model, loss_f, loader, device="cpu", progress=False):
    """Mean of every logged (sub-)loss over all batches, weighted by batch size."""
    model.eval()
    loss_f.eval()
    sums, n_seen = {}, 0
    with tqdm(total=len(loader.dataset) if hasattr(loader, "dataset") else None, unit="img", desc="test losses",
              disable=not progress, dynamic_ncols=True, leave=False) as bar:
        for x in loader:
            x = x.to(device)
            _, logs = loss_f(model, x)
            for name, value in logs.items():
                sums[name] = sums.get(name, 0.0) + value.double() * len(x)
            n_seen += len(x)
            bar.update(len(x))
    loss_f.train()
    return {name: float(total) / n_seen for name, total in sums.items()}


def weights_checksum(model):
    """SHA-256 of the model's parameters and buffers (names, shapes, dtypes, values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def metrics_provenance(model, n_samples=None, seed=0, dataset_version=1):
    """What metrics.log records a family as computed from (a missing `n_samples`: the
    standard sample counts; `dataset_version`: the rendering of the images it was computed on)."""
    counts = "standard" if not n_samples else f"at most {n_samples} points"
    return {"weights_sha256": weights_checksum(model), "sample_counts": counts, "seed": seed, "seeding": SEEDING,
            "dataset_version": dataset_version}


def reusable_metrics(save_dir, provenance, exclude=()):
    """(metrics of save_dir's metrics.log from families computed with `provenance`, those
    families); nothing when the file is missing, unreadable or from other weights."""
    try:
        old = read_metrics(save_dir)
    except DisvaeError:  # unreadable: every family is recomputed and the file rewritten
        return {"seconds": {}}, {}
    families = old.get("families")
    if not isinstance(families, dict):
        return {"seconds": {}}, {}
    results, kept = {"seconds": {}}, {}
    for name, record in families.items():
        if name in exclude or name not in METRICS or not isinstance(record, dict):
            continue
        keys, expected, stored = record.get("keys"), family_provenance(provenance, name), {"version": 1, **record}
        if {k: stored.get(k) for k in expected} != expected or not isinstance(keys, list) \
                or not all(isinstance(k, str) and k in old for k in keys):
            continue
        results.update({k: old[k] for k in keys})
        seconds = old.get("seconds", {}).get(name) if isinstance(old.get("seconds"), dict) else None
        if isinstance(seconds, (int, float)):
            results["seconds"][name] = seconds
        kept[name] = record
    return results, kept


def metric_curve_row(model, dataset, names, device, batch_size=1000, seed=0, n_samples=None, logger=None):
    """The scalar metrics of the families `names` (default all) for the model as it is now,
    seeded as metrics.log's families are (so the last row of a curve equals metrics.log's
    values for the final weights); the model is left in the mode it was in."""
    was_training = model.training
    model.eval()
    representation = ModelRepresentation(model, dataset, device, batch_size)
    row = {}
    try:
        for name in list(dict.fromkeys(names or DEFAULT_METRICS)):
            row.update(compute_family(representation, dataset, name, seed, n_samples, logger))
            row.pop("seconds")
    finally:
        model.train(was_training)
    return scalar_metrics(row)


def compute_family(representation, dataset, name, seed=0, n_samples=None, logger=None):
    """One family's values (with its "seconds"), from its own generator (seeded by the run's
    seed and its name) at the standard counts, or capped at about `n_samples` points."""
    counts = FAMILIES[name].quick(n_samples) if n_samples else {}
    return compute_metrics(representation, dataset, family_rng(seed, name), [name], logger, **{name: counts})


def write_metrics(model, dataset, save_dir, device, names=None, batch_size=1000, seed=0, logger=None,
                  n_samples=None, recompute=False, progress=False):
    """Compute the metric families `names` (default all; standard sample counts unless
    `n_samples`), writing metrics.log after each; families already in metrics.log for
    the same weights, counts and seed are kept unless `recompute`."""
    start = time.perf_counter()
    path = os.path.join(save_dir, METRICS_FILE)
    names = list(dict.fromkeys(names or DEFAULT_METRICS))
    provenance = metrics_provenance(model, n_samples, seed, dataset.version)
    counts = provenance["sample_counts"]
    results, families = reusable_metrics(save_dir, provenance, exclude=names if recompute else ())
    representation = ModelRepresentation(model, dataset, device, batch_size, progress=progress)

    def save():
        results.update(families=families, sample_counts=counts, n_encoded=representation.n_encoded, seed=seed)
        atomic_write_json(path, results)

    for name in tqdm(names, desc="metrics", unit="family", disable=not progress, dynamic_ncols=True, leave=False):
        if name in families:
            if logger is not None:
                logger.info("metric %s: kept from %s (same weights, sample counts and seed)", name, path)
            continue
        with phase(f"computing metric {name}"):
            values = compute_family(representation, dataset, name, seed, n_samples, logger)
        results["seconds"][name] = values.pop("seconds")[name]
        results.update(values)
        families[name] = dict(family_provenance(provenance, name), keys=sorted(values))
        save()
        keep(METRICS_FILE, f"{METRICS_FILE} ({', '.join(families)})")
    results["seconds"]["total"] = round(time.perf_counter() - start, 3)
    save()
    return results
