#!/usr/bin/env python
"""How much each MIG estimator moves when its sample count doubles, on trained models:
the check behind the choice of the headline MIG (it must move by less than 0.02).

    python bin/mig_stability.py NAME [NAME ...] [--estimators histogram sampled chen]
                                [--points 10000] [--chen-samples 10000]

For each results folder: MIG by the histogram and sampled estimators on `--points` and on
twice as many random images, and Chen et al.'s estimator over the whole dataset with
`--chen-samples` and twice as many samples per entropy; with the seconds each took.
"""
import sys
import time

import _repo  # noqa: F401  (puts the repository root on sys.path)
from disvae.datasets import load_dataset_of_run
from disvae.metrics import ModelRepresentation, family_rng
from disvae.metrics.mig import mig_aam
from disvae.metrics.mig_chen import mig_chen
from disvae.modelio import load_model
from disvae.results import run_dir
from disvae.runtime import get_device
from utils.cli import OneLineParser, run_cli


def main(argv):
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", help="results folders under results/")
    parser.add_argument("--points", type=int, default=10000, help="the histogram and sampled estimators' count")
    parser.add_argument("--chen-samples", type=int, default=10000, help="Chen's samples per entropy")
    parser.add_argument("--estimators", nargs="+", choices=("histogram", "sampled", "chen"),
                        default=["histogram", "sampled"], help="which estimators (chen: hours on a CPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cuda", action="store_true")
    args = parser.parse_args(argv)
    device = get_device(args.no_cuda)
    print("| model | estimator | count | MIG | MIG at 2x count | change | seconds (1x, 2x) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.names:
        model, specs = load_model(run_dir(name), device=device)
        dataset = load_dataset_of_run(specs["args"], device)
        representation = ModelRepresentation(model, dataset, device)
        runs = {"histogram": lambda n: mig_aam(representation, dataset, family_rng(args.seed, "mig"), n,
                                               estimators=("histogram",))["mig_histogram"],
                "sampled": lambda n: mig_aam(representation, dataset, family_rng(args.seed, "mig"), n,
                                             estimators=("sampled",))["mig_sampled"]}
        runs["chen"] = lambda n: mig_chen(representation, dataset, family_rng(args.seed, "mig_chen"),
                                          n_samples=n)["mig_chen"]
        counts = {"histogram": args.points, "sampled": args.points, "chen": args.chen_samples}
        for estimator in args.estimators:
            run = runs[estimator]
            values, seconds = [], []
            for count in (counts[estimator], 2 * counts[estimator]):
                start = time.perf_counter()
                values.append(run(count))
                seconds.append(time.perf_counter() - start)
            print(f"| {name} | {estimator} | {counts[estimator]} | {values[0]:.3f} | {values[1]:.3f} | "
                  f"{values[1] - values[0]:+.3f} | {seconds[0]:.0f}, {seconds[1]:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))
