"""matplotlib figures from the logs: loss curves (train_steps.csv, or train_losses.log for
runs without it) and metrics (metrics.log)."""
import io
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from disvae.distances import rank_correlation
from disvae.errors import DisvaeError  # noqa: E402
from disvae.io import atomic_write  # noqa: E402
from disvae.metrics import METRIC_LABELS
from disvae.results import (STEP_COLUMNS, read_metric_curve, read_metrics, read_train_losses,  # noqa: E402
                            read_train_steps, scalar_metrics)


def save_figure(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def loss_curves(save_dir):
    """({term: ([x], [values])}, x label): train_steps.csv against the step, or for runs
    without a step log train_losses.log against the epoch."""
    curves = defaultdict(lambda: ([], []))
    rows = read_train_steps(save_dir)
    if rows:
        for row in rows:
            for name, value in row.items():
                if name not in STEP_COLUMNS:
                    curves[name][0].append(row["step"])
                    curves[name][1].append(value)
        return dict(curves), "step"
    epoch_rows = read_train_losses(save_dir)
    if not epoch_rows:
        raise DisvaeError(f"{save_dir} has no train_steps.csv rows nor train_losses.log yet: the run has not "
                          "reached --log-every steps")
    for epoch, name, value in epoch_rows:
        curves[name][0].append(epoch)
        curves[name][1].append(value)
    return dict(curves), "epoch"


def plot_loss_curves(save_dir, out_path):
    """Every logged term against the training step (train_steps.csv), or against the
    epoch (train_losses.log) for runs without a step log."""
    curves, x_label = loss_curves(save_dir)
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


def plot_metrics(save_dir, out_path):
    """Every scalar of metrics.log, labelled as its metric family declares."""
    metrics = scalar_metrics(read_metrics(save_dir))
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(metrics)), 4))
    ax.bar(range(len(metrics)), list(metrics.values()), color="tab:blue")
    ax.set_xticks(range(len(metrics)), [METRIC_LABELS.get(k, k) for k in metrics], rotation=60, ha="right",
                  fontsize=8)
    ax.set_ylim(min(0, min(metrics.values(), default=0)), max(1, max(metrics.values(), default=1)))
    ax.set_title("disentanglement metrics")
    fig.tight_layout()
    save_figure(fig, out_path)


CURVE_KEYS = ("mig_histogram", "mig_histogram_no_shape", "mig_sampled", "mig_sampled_no_shape", "mig_chen",
              "mig_chen_no_shape")


def plot_metric_curve(save_dir, out_path):
    """metrics_curve.csv (--metrics-every): each MIG estimate against the epoch (the other
    scalars when the curve has no MIG), labelled as its metric family declares."""
    rows = read_metric_curve(save_dir)
    keys = [k for k in CURVE_KEYS if any(k in row for row in rows)] or \
        sorted({k for row in rows for k in row} - {"epoch", "step", "wall_time_s", "metric_seconds"})
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for key in keys:
        points = [(row["epoch"], row[key]) for row in rows if key in row]
        ax.plot(*zip(*points), marker="o", label=METRIC_LABELS.get(key, key),
                linestyle="--" if key.endswith("no_shape") else "-")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylim(0, max(0.6, max((row[k] for row in rows for k in keys if k in row), default=0) + 0.05))
    ax.legend(fontsize=8)
    ax.set_title(f"metrics during training ({rows[-1]['step']} steps, {rows[-1]['wall_time_s'] / 3600:.1f} h)")
    fig.tight_layout()
    save_figure(fig, out_path)


DISTANCE_TITLES = {"ground_truth": "ground truth (L1)", "perceived": "perceived (pixel MSE)",
                   "latent": "latent (L2 of means)"}
DISTANCE_COLOURS = {"ground_truth": "Blues", "perceived": "Purples", "latent": "Greens"}


def plot_distance_matrices(matrices, out_path, title):
    """One row per factor, one column per kind of distance ({factor: {kind: (T, T)}} of
    disvae.distances.factor_distance_matrices); the perceived and latent panels give their
    Spearman rank correlation with the ground truth."""
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
