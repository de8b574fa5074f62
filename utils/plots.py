"""matplotlib figures from the logs: loss curves (train_steps.csv, or train_losses.log for
runs without it) and metrics (metrics.log)."""
import os
import csv
import io
import json
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from utils.cli import CLIError  # noqa: E402
from utils.io import atomic_write  # noqa: E402


def save_figure(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def read_train_losses(path):
    """{loss name: ([epochs], [values])} from a CSV `Epoch,Loss,Value` log."""
    curves = defaultdict(lambda: ([], []))
    try:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                curves[row["Loss"]][0].append(int(row["Epoch"]))
                curves[row["Loss"]][1].append(float(row["Value"]))
    except FileNotFoundError:
        raise CLIError(f"no {path}: this run has not finished an epoch") from None
    except (KeyError, ValueError) as err:
        raise CLIError(f"{path} is not a train_losses.log ({err})") from None
    return dict(curves)


def read_train_steps(path):
    """{term: ([steps], [values])} from a train_steps.csv (step, epoch, wall_time_s, terms...)."""
    curves = defaultdict(lambda: ([], []))
    try:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                step = int(float(row["step"]))
                for name, value in row.items():
                    if name not in ("step", "epoch", "wall_time_s") and value not in ("", None):
                        curves[name][0].append(step)
                        curves[name][1].append(float(value))
    except (KeyError, ValueError, TypeError) as err:
        raise CLIError(f"{path} is not a train_steps.csv ({err})") from None
    return dict(curves)


def plot_loss_curves(save_dir, out_path):
    """Every logged term against the training step (train_steps.csv), or against the
    epoch (train_losses.log) for runs without a step log."""
    steps_path = os.path.join(save_dir, "train_steps.csv")
    if os.path.exists(steps_path) and os.path.getsize(steps_path) > 0:
        curves, x_label = read_train_steps(steps_path), "step"
    else:
        curves, x_label = read_train_losses(os.path.join(save_dir, "train_losses.log")), "epoch"
    if not curves:
        raise CLIError(f"{steps_path} has no rows yet: the run has not reached --log-every steps")
    marker = dict(marker="o", ms=3) if max(len(x) for x, _ in curves.values()) < 50 else {}
    per_latent = sorted((k for k in curves if k.startswith("kl_loss_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    others = [k for k in curves if k not in per_latent]
    n_panels = len(others) + bool(per_latent)
    n_cols = min(3, n_panels)
    n_rows = (n_panels + n_cols - 1) // n_cols
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.5 * n_cols, 3 * n_rows), squeeze=False)
    axes = axes.ravel()
    for ax, name in zip(axes, others):
        ax.plot(*curves[name], **marker)
        ax.set_title(name)
        ax.set_xlabel(x_label)
    if per_latent:
        ax = axes[len(others)]
        for name in per_latent:
            ax.plot(*curves[name], **marker, label=name.replace("kl_loss_", "z"))
        ax.set_title("KL per latent")
        ax.set_xlabel(x_label)
        ax.legend(fontsize=6, ncol=2)
    for ax in axes[n_panels:]:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, out_path)


def scalar_metrics(metrics):
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("n_encoded", "factor_vae_active_latents", "seed")}


def plot_metrics(log_path, out_path):
    try:
        with open(log_path) as f:
            metrics = scalar_metrics(json.load(f))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CLIError(f"{log_path} is not valid JSON ({err})") from None
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(metrics)), 4))
    ax.bar(range(len(metrics)), list(metrics.values()), color="tab:blue")
    ax.set_xticks(range(len(metrics)), list(metrics), rotation=60, ha="right", fontsize=8)
    ax.set_ylim(min(0, min(metrics.values(), default=0)), max(1, max(metrics.values(), default=1)))
    ax.set_title("disentanglement metrics")
    fig.tight_layout()
    save_figure(fig, out_path)


DISTANCE_TITLES = {"ground_truth": "ground truth (L1)", "perceived": "perceived (pixel MSE)",
                   "latent": "latent (L2 of means)"}
DISTANCE_COLOURS = {"ground_truth": "Blues", "perceived": "Purples", "latent": "Greens"}


def plot_distance_matrices(matrices, out_path, title):
    """One row per factor, one column per kind of distance ({factor: {kind: (T, T)}} of
    utils.distances.factor_distance_matrices); the perceived and latent panels give their
    Spearman rank correlation with the ground truth."""
    from utils.distances import rank_correlation
    kinds = [k for k in DISTANCE_TITLES if k in next(iter(matrices.values()))]
    fig, axes = plt.subplots(len(matrices), len(kinds), figsize=(2.6 * len(kinds), 2.4 * len(matrices)),
                             squeeze=False)
    for row, (factor, entry) in zip(axes, matrices.items()):
        for ax, kind in zip(row, kinds):
            ax.imshow(entry[kind], cmap=DISTANCE_COLOURS[kind], interpolation="nearest")
            label = DISTANCE_TITLES[kind]
            if kind != "ground_truth":
                label += f"\nrank corr. {rank_correlation(entry['ground_truth'], entry[kind]):.2f}"
            ax.set_title(label, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(factor)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, out_path)


def plot_spacing_matrices(per_spacing, out_path):
    """XYSquares at several spacings ({spacing: (ground truth, perceived), each averaged
    over the six factors}): ground truth on top, perceived distances below."""
    fig, axes = plt.subplots(2, len(per_spacing), figsize=(1.9 * len(per_spacing), 4.2), squeeze=False)
    for column, (spacing, (truth, perceived)) in enumerate(per_spacing.items()):
        for row, (matrix, kind) in enumerate(((truth, "ground_truth"), (perceived, "perceived"))):
            ax = axes[row, column]
            ax.imshow(matrix, cmap=DISTANCE_COLOURS[kind], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, column].set_title(f"spacing {spacing}", fontsize=9)
    axes[0, 0].set_ylabel("ground truth (L1)", fontsize=8)
    axes[1, 0].set_ylabel("perceived (MSE)", fontsize=8)
    fig.suptitle("XYSquares: grid spacing and perceived distances along factor traversals", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out_path)
