"""Per-latent table (as in the beta-VAE reproductions): for each latent z_j over a random
sample of the data,
- kl: mean KL(q(z_j|x) || N(0, 1)) = mean 0.5 (mu^2 + sigma^2 - log sigma^2 - 1), nats;
- posterior_variance: mean sigma^2 (near 1 for a latent the model does not use);
- on ground-truth datasets, the factor z_j carries most information about: the largest
  I(z_j; v_k) of the histogram estimator (20 bins of the posterior means, as
  disentanglement_lib's MIG), and that information over H(v_k) (1: z_j determines v_k).
"""
import numpy as np
import torch

from disvae.gaussian import kl_normal_per_dim
from disvae.metrics.mig import factor_sample, mutual_info_histogram

COLUMNS = ("latent", "kl", "posterior_variance", "factor", "mutual_info", "mutual_info_normalised")


def latent_table(representation, dataset, rng, n_points=10000):
    """One dict per latent (COLUMNS); factor columns are None without ground truth."""
    n_points = min(n_points, len(dataset))
    indices = np.sort(rng.choice(len(dataset), n_points, replace=False))
    mean, logvar = (a.astype(np.float64) for a in representation(indices))
    kl = kl_normal_per_dim(torch.from_numpy(mean), torch.from_numpy(logvar)).numpy()
    variance = np.exp(logvar).mean(0)
    rows = [{"latent": j, "kl": float(kl[j]), "posterior_variance": float(variance[j]), "factor": None,
             "mutual_info": None, "mutual_info_normalised": None} for j in range(mean.shape[1])]
    if getattr(dataset, "has_factors", False):
        factors, names, entropy = factor_sample(dataset, indices)
        mi = mutual_info_histogram(mean, factors)  # (Z, F)
        for j, row in enumerate(rows):
            k = int(np.argmax(mi[j]))
            row.update(factor=names[k], mutual_info=float(mi[j, k]),
                       mutual_info_normalised=float(mi[j, k] / entropy[k]) if entropy[k] > 0 else 0.0)
    return rows


def format_table(rows):
    """The table as aligned text, latents by decreasing KL."""
    lines = [f"{'latent':>6} {'KL (nats)':>10} {'post. var':>10}  {'factor':<12} {'MI (nats)':>10} {'MI / H':>7}"]
    for row in sorted(rows, key=lambda r: -r["kl"]):
        factor = "" if row["factor"] is None else row["factor"]
        mi = "" if row["mutual_info"] is None else f"{row['mutual_info']:.3f}"
        norm = "" if row["mutual_info_normalised"] is None else f"{row['mutual_info_normalised']:.3f}"
        lines.append(f"{row['latent']:>6} {row['kl']:>10.3f} {row['posterior_variance']:>10.3f}  {factor:<12} "
                     f"{mi:>10} {norm:>7}")
    return "\n".join(lines)


def table_csv(rows):
    lines = [",".join(COLUMNS)]
    for row in rows:
        lines.append(",".join("" if row[c] is None else (f"{row[c]:.6g}" if isinstance(row[c], float) else str(row[c]))
                              for c in COLUMNS))
    return "\n".join(lines) + "\n"
