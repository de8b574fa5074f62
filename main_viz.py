"""Plots and GIFs of a trained model in results/<name>/, and figures of a ground-truth
dataset alone (--dataset, written to results/dataset_<dataset>/).

    python main_viz.py btcvae_dsprites all -s 1
    python main_viz.py NAME gif-traversals reconstruct-traverse -c 7 -r 6 -t 2 --is-posterior
    python main_viz.py NAME latents latent-distances
    python main_viz.py --dataset xysquares factor-traversals distances xysquares-spacing
"""
import os
import sys
from dataclasses import dataclass

import numpy as np

from disvae.datasets import DATASETS, PROCEDURAL, load_dataset_of_run
from disvae.distances import factor_distance_matrices
from disvae.errors import DisvaeError
from disvae.frames import save_png
from disvae.io import atomic_write_text
from disvae.metrics import ModelRepresentation
from disvae.metrics.latents import format_table, latent_table, table_csv
from disvae.modelio import load_model
from disvae.options import non_negative, positive, run_name, seed_type
from disvae.phases import keep, phase
from disvae.results import read_metric_curve, rendering_note, run_dir
from disvae.runtime import seeded_generator, set_seed
from utils.cli import OneLineParser, add_option, argparse_type, run_cli
from utils.plots import (plot_distance_matrices, plot_loss_curves, plot_metric_curve, plot_metrics,
                         plot_spacing_matrices)
from utils.visualize import PLOT_FILES, Visualizer, factor_traversal_grid

@dataclass(frozen=True)
class Plot:
    """One plot: its file in the results folder, and what it is drawn from."""
    file: str
    model: bool = True  # drawn for a trained model (NAME PLOT)
    alone: bool = False  # drawn for a dataset alone (--dataset DATASET PLOT)
    factors: bool = False  # needs ground-truth factors
    dataset: str = None  # only this dataset's


# every plot, once: the Visualizer's, then the figures of the ground truth (with or without a model)
PLOTS = {**{name: Plot(file) for name, file in PLOT_FILES.items()},
         "factor-traversals": Plot("factor_traversals.png", alone=True, factors=True),
         "distances": Plot("distances.png", alone=True, factors=True),
         "latent-distances": Plot("latent_distances.png", factors=True),
         "latents": Plot("latents.csv"),
         "xysquares-spacing": Plot("xysquares_spacing.png", model=False, alone=True, factors=True, dataset="xysquares")}
MODEL_PLOTS = [name for name, plot in PLOTS.items() if plot.model]
DATASET_PLOTS = [name for name, plot in PLOTS.items() if plot.alone]
SPACINGS = range(1, 9)


def parse_arguments(argv):
    parser = OneLineParser(description="CLI for plotting using pretrained models of `disvae`")
    parser.add_argument("targets", nargs="+", metavar="NAME PLOT",
                        help=f"The results folder's name, then the plots, any of: {', '.join([*PLOTS, 'all'])}. "
                             "With --dataset, only plots.")
    parser.add_argument("--dataset", choices=PROCEDURAL, default=None,
                        help=f"Figures of this dataset alone, no model ({', '.join(DATASET_PLOTS)}, all), "
                             "written to results/dataset_<dataset>/.")
    for option in dict.fromkeys(o for name in PROCEDURAL for o in DATASETS[name].options.values()):
        add_option(parser, option, default=option.default)  # the procedural datasets' own options
    parser.add_argument("--n-bases", type=argparse_type(positive(int)), default=16,
                        help="Traversals averaged per factor in the distance figures.")
    parser.add_argument("--n-points", type=argparse_type(positive(int)), default=10000,
                        help="Images sampled for the per-latent table (latents).")
    parser.add_argument("-s", "--seed", type=argparse_type(seed_type), default=None, help="Random seed (`None`: stochastic).")
    parser.add_argument("-r", "--n-rows", type=argparse_type(positive(int)), default=6, help="The number of rows to visualize.")
    parser.add_argument("-c", "--n-cols", type=argparse_type(positive(int)), default=7, help="The number of columns to visualize.")
    parser.add_argument("-t", "--max-traversal", type=argparse_type(positive(float)), default=2,
                        help="Maximum traversal: absolute if >= 0.5, else a quantile of the distribution.")
    parser.add_argument("-i", "--idcs", type=argparse_type(non_negative(int)), nargs="+", default=[],
                        help="Indices of images to put at the beginning of the samples.")
    parser.add_argument("-u", "--upsample-factor", type=argparse_type(positive(int)), default=1,
                        help="The scale factor with which to upsample the image.")
    parser.add_argument("--is-show-loss", action="store_true", help="Displays each latent's KL on the figures.")
    parser.add_argument("--is-posterior", action="store_true", help="Traverses the posterior instead of the prior.")
    args = parser.parse_args(argv)
    if args.dataset is None:
        try:
            args.name, args.plots = run_name(args.targets[0]), args.targets[1:]
        except ValueError as err:
            parser.error(f"argument NAME: {err}")
        if not args.plots:
            parser.error("name the plots to draw after the results folder, e.g. `all`")
        allowed = MODEL_PLOTS + ["all"]
    else:
        args.name, args.plots = None, args.targets
        allowed = DATASET_PLOTS + ["all"]
    for plot in args.plots:
        if plot not in allowed:
            where = "with --dataset (a dataset alone)" if args.dataset else "for a trained model"
            parser.error(f"argument PLOT: invalid choice: {plot!r} {where} (choose from {', '.join(allowed)})")
    return args


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    set_seed(args.seed)
    if args.dataset is not None:
        return dataset_figures(args)
    save_dir = run_dir(args.name)
    model, specs = load_model(save_dir)
    if rendering_note(specs):
        sys.stderr.write(f"warning: {rendering_note(specs)}\n")
    dataset = load_dataset_of_run(specs["args"])
    bad = [i for i in args.idcs if i >= len(dataset)]
    if bad:
        raise DisvaeError(f"--idcs {bad[0]} is out of range: {specs['dataset']} has {len(dataset)} images")
    viz = Visualizer(model, dataset, save_dir, n_rows=args.n_rows, n_cols=args.n_cols,
                     max_traversal=args.max_traversal, upsample=args.upsample_factor,
                     is_posterior=args.is_posterior, is_show_loss=args.is_show_loss, idcs=args.idcs, seed=args.seed)
    plots = MODEL_PLOTS if "all" in args.plots else list(dict.fromkeys(args.plots))
    for plot in plots:
        path = os.path.join(save_dir, PLOTS[plot].file)
        with phase(f"drawing {plot}"):
            written = draw(plot, args, viz, save_dir, path)
        if written:
            keep(plot, os.path.basename(path))
            print(f"saved {path}")
    return 0


def dataset_figures(args):
    """Figures of a procedural dataset alone: results/dataset_<name>[_spacing<k>]/."""
    dataset = load_dataset_of_run(dict(vars(args), data_root=None))
    save_dir = run_dir(f"dataset_{args.dataset}{dataset.options_suffix()}")
    os.makedirs(save_dir, exist_ok=True)
    plots = DATASET_PLOTS if "all" in args.plots else list(dict.fromkeys(args.plots))
    for plot in plots:
        only = PLOTS[plot].dataset
        if only not in (None, args.dataset):
            if "all" in args.plots:
                continue
            raise DisvaeError(f"{plot} draws {only}: use --dataset {only}")
        path = os.path.join(save_dir, PLOTS[plot].file)
        with phase(f"drawing {plot}"):
            draw_factor_plot(plot, args, dataset, path)
        keep(plot, os.path.basename(path))
        print(f"saved {path}")
    return 0


def numpy_rng(args):
    return np.random.default_rng(args.seed)


def draw_factor_plot(plot, args, dataset, path, model=None):
    """The figures of the ground truth; `model` adds its latent distances."""
    if plot == "factor-traversals":
        save_png(factor_traversal_grid(dataset, args.n_cols, seeded_generator(args.seed), args.upsample_factor), path)
    elif plot in ("distances", "latent-distances"):
        encode = None
        if plot == "latent-distances":
            representation = ModelRepresentation(model, dataset, next(model.parameters()).device)
            encode = lambda indices: representation(indices)[0]  # noqa: E731
        matrices = factor_distance_matrices(dataset, numpy_rng(args), args.n_bases, encode)
        name = args.name or dataset.description()
        plot_distance_matrices(matrices, path, f"{name}: distances along factor traversals "
                                               f"(mean of {args.n_bases} per factor)")
    elif plot == "xysquares-spacing":
        plot_spacing_matrices(spacing_matrices(args, dataset.__class__), path)


def spacing_matrices(args, xysquares):
    """{spacing: (ground truth, perceived)}, each the mean over XYSquares' six factors."""
    per_spacing = {}
    for spacing in SPACINGS:
        matrices = factor_distance_matrices(xysquares(spacing=spacing), numpy_rng(args), args.n_bases)
        per_spacing[spacing] = tuple(np.mean([m[kind] for m in matrices.values()], 0)
                                     for kind in ("ground_truth", "perceived"))
    return per_spacing


def draw(plot, args, viz, save_dir, path):
    """Write one plot, atomically (an interrupted plot leaves no partial file); False
    when `all` skips it for want of its input."""
    if PLOTS[plot].factors and not getattr(viz.dataset, "has_factors", False):
        if "all" in args.plots:
            print(f"skipped {plot}: the dataset has no ground-truth factors")
            return False
        raise DisvaeError(f"{plot} needs a dataset with ground-truth factors")
    if plot == "latents":
        write_latent_table(args, viz, path)
    elif plot not in PLOT_FILES:
        draw_factor_plot(plot, args, viz.dataset, path, viz.model)
    elif plot == "loss-curves":
        plot_loss_curves(save_dir, path)
    elif plot == "metrics":
        metrics_file = os.path.join(save_dir, "metrics.log")
        if not os.path.exists(metrics_file):
            if "all" in args.plots:
                print(f"skipped metrics: no {metrics_file} (train or evaluate with --is-metrics)")
                return False
            raise DisvaeError(f"no {metrics_file}; run `python main.py {args.name} --is-eval-only --is-metrics`")
        plot_metrics(save_dir, path)
    elif plot == "metric-curve":
        if not read_metric_curve(save_dir):
            if "all" in args.plots:
                print("skipped metric-curve: no metrics_curve.csv (train with --metrics-every)")
                return False
            raise DisvaeError(f"no metric curve in {save_dir}; train with --metrics-every n")
        plot_metric_curve(save_dir, path)
    else:
        getattr(viz, plot.replace("-", "_"))()
    return True


def write_latent_table(args, viz, path):
    representation = ModelRepresentation(viz.model, viz.dataset, viz.device)
    rows = latent_table(representation, viz.dataset, numpy_rng(args), args.n_points)
    print(format_table(rows))
    atomic_write_text(path, table_csv(rows))


if __name__ == "__main__":
    sys.exit(run_cli(main))
