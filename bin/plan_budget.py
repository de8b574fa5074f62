#!/usr/bin/env python
"""The training commands of bin/reproduce.sh: each experiment trained for a wall-clock
budget, with the schedules that depend on the run length scaled to the steps that
budget allows. Prints one `python main.py ...` line per run on stdout and the scaling
on stderr.

    python bin/plan_budget.py --minutes 10 --seeds 2 [--experiments betaH_dsprites ...]
    python bin/plan_budget.py --steps 20000 --seeds 3     # equal steps for every seed

Steps per minute are those of one CPU thread (bin/benchmark.py with OMP_NUM_THREADS=1
on the reference machine); `--rate-scale` adjusts them for faster hardware. A run
stops at --max-minutes whatever the estimate; the estimate only places the schedules.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from disvae.config import experiment_parameters  # noqa: E402

EXPERIMENTS = ["VAE_dsprites", "betaH_dsprites", "betaB_dsprites", "factor_dsprites", "btcvae_dsprites",
               "dipvaeI_dsprites", "dipvaeII_dsprites", "adatvae_dsprites", "adatvae_xyobject", "adatvae_xysquares"]
DATASET_SIZES = {"dsprites": 737280, "xyobject": 75000, "xysquares": 262144}
# training steps per minute on one CPU thread at batch 64 (bin/benchmark.py, 2 cores, float32)
STEPS_PER_MINUTE = {"VAE": 600, "betaH": 600, "betaB": 600, "factor": 450, "btcvae": 520, "dipvaeI": 580,
                    "dipvaeII": 580, "adatvae": 170}
# Ada-TVAE's research batch (256) costs 4x the images per step; within a CPU budget it
# trains at batch 64 with lr 5e-4, as bin/compare_adatvae.sh
BUDGET_OVERRIDES = {"adatvae": {"batch_size": 64, "lr": 5e-4}}


def plan(experiment, minutes, seed_offset, rate_scale=1.0, metrics_samples=None, prefix="", steps=None):
    """(command words, run name, message) for one run: a wall-clock budget of `minutes`,
    or exactly `steps` optimiser steps when given (every seed trains as long)."""
    args = experiment_parameters(experiment)
    fixed_steps = steps is not None
    overrides = dict(BUDGET_OVERRIDES.get(args.loss, {}))
    batch_size = overrides.get("batch_size", args.batch_size)
    full_steps = args.epochs * -(-DATASET_SIZES[args.dataset] // batch_size)
    if steps is None:
        steps = int(minutes * STEPS_PER_MINUTE[args.loss] * rate_scale)
        notes = [f"~{steps} steps in {minutes:g} min (the experiment's {args.epochs} epochs are {full_steps} steps)"]
    else:
        notes = [f"{steps} steps (the experiment's {args.epochs} epochs are {full_steps} steps)"]
    if args.loss != "VAE" and args.reg_anneal:
        overrides["reg_anneal"] = max(1, round(args.reg_anneal * steps / full_steps))
        what = "capacity annealed" if args.loss == "betaB" else "regularisation annealed"
        notes.append(f"{what} over {overrides['reg_anneal']} steps instead of {args.reg_anneal}")
    if args.loss == "adatvae" or fixed_steps:
        overrides["max_steps"] = steps
    if args.loss == "adatvae":
        notes.append(f"schedule over --max-steps {steps}; batch 64, lr 5e-4 instead of {args.batch_size}, "
                     f"{args.lr:g}")
    seed = args.seed + seed_offset
    name = prefix + (experiment if seed_offset == 0 else f"{experiment}_seed{seed}")
    budget = [] if fixed_steps else ["--max-minutes", f"{minutes:g}"]
    words = ["python", "main.py", name, "-x", experiment, "--seed", str(seed), *budget,
             "--is-metrics", "--no-test", "--no-progress-bar"]
    if metrics_samples:
        words += ["--metrics-samples", str(metrics_samples)]
    for key, value in overrides.items():
        words += ["--" + key.replace("_", "-"), f"{value:g}" if isinstance(value, float) else str(value)]
    return words, name, f"{name}: " + "; ".join(notes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget of each run")
    parser.add_argument("--steps", type=int, default=None,
                        help="train every run exactly this many steps instead of --minutes (schedules scale to it)")
    parser.add_argument("--seeds", type=int, default=1, help="runs per experiment (seeds ini+0, ini+1, ...)")
    parser.add_argument("--experiments", nargs="+", default=EXPERIMENTS, choices=EXPERIMENTS)
    parser.add_argument("--rate-scale", type=float, default=1.0,
                        help="multiply the one-thread steps/minute by this (faster machines, more threads)")
    parser.add_argument("--metrics-samples", type=int, default=None,
                        help="cap every metric at about this many points (quick checks; default: standard)")
    parser.add_argument("--prefix", default="", help="run names start with this (bin/reproduce.sh: repro_)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.seeds < 1 or args.rate_scale <= 0 or (args.steps is not None and args.steps < 1):
        parser.error("--minutes, --steps, --seeds and --rate-scale must be positive")
    for offset in range(args.seeds):
        for experiment in args.experiments:
            words, _, message = plan(experiment, args.minutes, offset, args.rate_scale, args.metrics_samples,
                                      args.prefix, args.steps)
            print(message, file=sys.stderr)
            print(" ".join(words))


if __name__ == "__main__":
    main()
