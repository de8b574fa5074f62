"""Plots and GIFs of a trained model in results/<name>/.

    python main_viz.py btcvae_dsprites all -s 1
    python main_viz.py NAME gif-traversals reconstruct-traverse -c 7 -r 6 -t 2 --is-posterior
"""
import os
import sys

from disvae.modelio import load_model
from main import check_run_args
from utils.cli import CLIError, OneLineParser, non_negative, positive, keep, phase, run_cli, run_name, seed_type, set_seed
from utils.datasets import load_dataset_of_run
from utils.plots import plot_loss_curves, plot_metrics
from utils.visualize import PLOT_FILES, Visualizer

RES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
PLOTS = list(PLOT_FILES) + ["all"]


def parse_arguments(argv):
    parser = OneLineParser(description="CLI for plotting using pretrained models of `disvae`")
    parser.add_argument("name", type=run_name, help="Name of the model for storing and loading purposes.")
    parser.add_argument("plots", nargs="+", choices=PLOTS, metavar="PLOT",
                        help=f"Plots to generate, any of: {', '.join(PLOTS)}.")
    parser.add_argument("-s", "--seed", type=seed_type, default=None, help="Random seed (`None`: stochastic).")
    parser.add_argument("-r", "--n-rows", type=positive(int), default=6, help="The number of rows to visualize.")
    parser.add_argument("-c", "--n-cols", type=positive(int), default=7, help="The number of columns to visualize.")
    parser.add_argument("-t", "--max-traversal", type=positive(float), default=2,
                        help="Maximum traversal: absolute if >= 0.5, else a quantile of the distribution.")
    parser.add_argument("-i", "--idcs", type=non_negative(int), nargs="+", default=[],
                        help="Indices of images to put at the beginning of the samples.")
    parser.add_argument("-u", "--upsample-factor", type=positive(int), default=1,
                        help="The scale factor with which to upsample the image.")
    parser.add_argument("--is-show-loss", action="store_true", help="Displays each latent's KL on the figures.")
    parser.add_argument("--is-posterior", action="store_true", help="Traverses the posterior instead of the prior.")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    set_seed(args.seed)
    save_dir = os.path.join(RES_DIR, args.name)
    model, specs = load_model(save_dir, check_args=check_run_args)
    dataset = load_dataset_of_run(specs["args"])
    bad = [i for i in args.idcs if i >= len(dataset)]
    if bad:
        raise CLIError(f"--idcs {bad[0]} is out of range: {specs['dataset']} has {len(dataset)} images")
    viz = Visualizer(model, dataset, save_dir, n_rows=args.n_rows, n_cols=args.n_cols,
                     max_traversal=args.max_traversal, upsample=args.upsample_factor,
                     is_posterior=args.is_posterior, is_show_loss=args.is_show_loss, idcs=args.idcs, seed=args.seed)
    plots = list(PLOT_FILES) if "all" in args.plots else list(dict.fromkeys(args.plots))
    for plot in plots:
        with phase(f"drawing {plot}"):
            written = draw(plot, args, viz, save_dir)
        if written:
            keep(plot, os.path.basename(viz.path(plot)))
            print(f"saved {viz.path(plot)}")
    return 0


def draw(plot, args, viz, save_dir):
    """Write one plot, atomically (an interrupted plot leaves no partial file); False
    when `all` skips it for want of its input."""
    if plot == "loss-curves":
        plot_loss_curves(save_dir, viz.path(plot))
    elif plot == "metrics":
        metrics_file = os.path.join(save_dir, "metrics.log")
        if not os.path.exists(metrics_file):
            if "all" in args.plots:
                print(f"skipped metrics: no {metrics_file} (train or evaluate with --is-metrics)")
                return False
            raise CLIError(f"no {metrics_file}; run `python main.py {args.name} --is-eval-only --is-metrics`")
        plot_metrics(metrics_file, viz.path(plot))
    else:
        getattr(viz, plot.replace("-", "_"))()
    return True


if __name__ == "__main__":
    sys.exit(run_cli(main))
