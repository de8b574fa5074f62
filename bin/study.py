#!/usr/bin/env python
"""A study: a grid of losses x hyperparameter values x seeds x datasets, every run trained,
scored (every metric) and plotted, on this machine or on SLURM through submitit; a second
launch of the same study does only what is missing (unfinished runs resume from their
checkpoint; failed ones are listed, and retried with --retry-failed). Everything lands in
results/<study>/ (see disvae/study.py): runs/, study.csv, summary.md and its figures.

    python bin/study.py lib --preset unsupervised_study_v1 --seeds 5 --steps 300000
    python bin/study.py mine --grid btcvae_B=1,4,6 --grid betaH_B=1,4 --seeds 3 --steps 20000 -j 2
    python bin/study.py mine --backend slurm --partition gpu --gpus-per-job 1 --time 600 --array-parallelism 64
    python bin/study.py mine --status          # the states of its runs, nothing launched

--grid OPTION=V1,V2 varies any option of `python main.py -h` (a loss's options add that
loss to the study; general ones apply to every loss; one value fixes it). Schedules keep
the experiment's own lengths (e.g. betaB's capacity over --reg-anneal steps) unless
--scale-schedules shrinks them to the budget.
"""
import argparse
import os
import sys

import _repo  # noqa: F401  (puts the repository root on sys.path)

from disvae import results
from disvae.config import run_parameters
from disvae.datasets import load_dataset_of_run
from disvae.errors import DisvaeError
from disvae.metrics import METRICS
from disvae.options import run_name
from disvae.study import (PRESETS, RunJobs, configs_of, datasets_of, describe, expand, failure_of,
                          owner_of, parse_grid, save_description, state_of, submit_local, validate,
                          write_table)

BACKENDS = ("local", "slurm", "debug")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", type=run_name, help="the study: results/<name>/")
    grid = parser.add_argument_group("the grid")
    grid.add_argument("--preset", choices=sorted(PRESETS), help="a predefined grid of losses and values")
    grid.add_argument("--losses", nargs="+", default=[], help="losses at their experiment's values")
    grid.add_argument("--grid", action="append", default=[], metavar="OPTION=V1,V2",
                      help="values of one option (repeat for several)")
    grid.add_argument("--datasets", nargs="+", default=["dsprites"])
    grid.add_argument("--seeds", type=int, default=1, help="seeds per grid point: --seed0, +1, ... (default 1)")
    grid.add_argument("--seed0", type=int, default=None, help="first seed (default: hyperparam.ini's)")
    budget = grid.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="optimiser steps per run (default: the experiment's epochs)")
    budget.add_argument("--epochs", type=int, help="epochs per run")
    budget.add_argument("--minutes", type=float, help="minutes of training per run (steps vary with the machine)")
    grid.add_argument("--scale-schedules", action="store_true",
                      help="shrink length-dependent schedules (--reg-anneal) to the budget")
    grid.add_argument("--metrics", nargs="+", choices=sorted(METRICS),
                      help="the metric families each run computes (default: main.py's, every default family)")
    grid.add_argument("--metrics-samples", type=int, help="cap every metric at about this many points")
    grid.add_argument("--no-test", action="store_true", help="skip the test losses (a pass over the data)")
    grid.add_argument("--tensorboard", action="store_true", help="each run also logs to TensorBoard")
    run = parser.add_argument_group("running")
    run.add_argument("--backend", choices=BACKENDS, default="local",
                     help="local: -j workers here; slurm: a job array; debug: in this process")
    run.add_argument("-j", "--jobs", type=int, default=1, help="local: runs at once (cores shared; GPUs in turn)")
    run.add_argument("--no-plots", action="store_true", help="skip main_viz.py's plots of each run")
    run.add_argument("--retry-failed", action="store_true", help="run the failed runs again")
    run.add_argument("--status", action="store_true", help="print each run's state and stop")
    slurm = parser.add_argument_group("slurm")
    slurm.add_argument("--partition", help="SLURM partition")
    slurm.add_argument("--time", type=int, default=24 * 60, help="minutes per job (default 1440)")
    slurm.add_argument("--cpus-per-job", type=int, default=2)
    slurm.add_argument("--gpus-per-job", type=int, default=0)
    slurm.add_argument("--array-parallelism", type=int, default=64, help="jobs of the array running at once")
    slurm.add_argument("--wait", action="store_true", help="wait for the SLURM jobs and write the summary")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1 or min(args.steps or 1, args.epochs or 1, args.minutes or 1) <= 0:
        parser.error("--seeds, -j, --steps, --epochs and --minutes must be positive")
    return args


def build(args):
    """(study folder, runs, budget) of the command line; DisvaeError on a bad grid."""
    grid = parse_grid(args.grid)
    general = {k: v for k, v in grid.items() if owner_of(k) is None}  # e.g. latent_dim=4: every loss
    configs = [(c[0], {**c[1], **general}, *c[2:]) for c in PRESETS[args.preset]] if args.preset else []
    if args.losses or len(general) < len(grid) or not configs:
        configs += configs_of(args.losses, grid)
    seed0 = args.seed0 if args.seed0 is not None else run_parameters().seed
    budget = {"max_steps": args.steps} if args.steps else {"epochs": args.epochs} if args.epochs else \
        {"max_minutes": args.minutes} if args.minutes else {}
    if args.metrics:
        budget["metrics"] = list(dict.fromkeys(args.metrics))
    if args.metrics_samples:
        budget["metrics_samples"] = args.metrics_samples
    for flag in ("no_test", "tensorboard"):
        if getattr(args, flag):
            budget[flag] = True
    runs = expand(configs, datasets_of(configs, args.datasets), [seed0 + k for k in range(args.seeds)])
    if args.scale_schedules:
        runs = [scaled(run, budget) for run in runs]
    validate(runs, budget)
    options = sorted({option for run in runs for option, _ in run.values})
    return os.path.join(results.RESULTS_DIR, args.name), runs, budget, options


def scaled(run, budget):
    """The run with --reg-anneal shrunk to its budget (the fraction of the experiment's
    length that it trains)."""
    params = run_parameters(run.typed({}))
    if not params.reg_anneal or "reg_anneal" in dict(run.values) or "max_steps" not in budget:
        return run
    n_batches = -(-len(load_dataset_of_run(vars(params))) // params.batch_size)
    steps = round(params.reg_anneal * budget["max_steps"] / (params.epochs * n_batches))
    return type(run)(run.loss, run.dataset, run.seed, run.values + (("reg_anneal", max(1, steps)),), run.name)


def slurm_parameters(args):
    """submitit's parameters of the SLURM job array (one run per job; a job that reaches
    its time limit or is preempted is requeued and resumes)."""
    params = {"timeout_min": args.time, "cpus_per_task": args.cpus_per_job, "tasks_per_node": 1, "nodes": 1,
              "slurm_array_parallelism": args.array_parallelism, "name": f"disvae-{args.name}"}
    if args.partition:
        params["slurm_partition"] = args.partition
    if args.gpus_per_job:
        params["gpus_per_node"] = args.gpus_per_job
    return params


def launch(args, study_dir, runs, budget):
    """Submit the runs that are not done; returns the jobs."""
    pending = [run for run in runs if state_of(study_dir, run.name) in ("missing", "unfinished")]
    if not pending:
        return []
    logs = os.path.join(study_dir, "logs")
    if args.backend == "slurm":
        import submitit
        executor = submitit.AutoExecutor(folder=logs, cluster="slurm")
        executor.update_parameters(**slurm_parameters(args))
        return executor.map_array(RunJobs(study_dir, budget, not args.no_plots, args.cpus_per_job),
                                  [[run] for run in pending])
    return submit_local(lambda threads: RunJobs(study_dir, budget, not args.no_plots, threads), pending,
                        args.jobs if args.backend == "local" else 1, logs, args.time, args.backend)


def report(study_dir, runs):
    states = {run.name: state_of(study_dir, run.name) for run in runs}
    counts = {s: sum(1 for v in states.values() if v == s) for s in ("done", "unfinished", "missing", "failed")}
    print(f"{study_dir}: {len(runs)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    for name, state in states.items():
        if state == "failed":
            print(f"  failed {name}: {failure_of(study_dir, name)}")
    return counts


def main(argv=None):
    args = parse_args(argv)
    try:
        study_dir, runs, budget, options = build(args)
        os.makedirs(study_dir, exist_ok=True)
        save_description(study_dir, describe(runs, budget, options))
    except DisvaeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.status:
        report(study_dir, runs)
        return 0
    if args.retry_failed:
        for run in runs:
            if state_of(study_dir, run.name) == "failed":
                os.remove(os.path.join(study_dir, "failed", run.name + ".txt"))
    write_table(study_dir)
    jobs = launch(args, study_dir, runs, budget)
    print(f"{len(jobs)} job(s) on {args.backend}; logs in {os.path.join(study_dir, 'logs')}")
    if args.backend == "slurm" and not args.wait:
        print("the runs train on the cluster; launch the same command again to see or resume them")
        return 0
    stopped = 0
    try:
        for job in jobs:
            try:
                job.result()
            except Exception as err:  # a job stopped by a signal, or the scheduler's failure: one line each
                stopped += 1
                print(f"job {job.job_id}: {str(err).strip().splitlines()[-1] if str(err).strip() else err!r}",
                      file=sys.stderr)
    except KeyboardInterrupt:  # Ctrl-C: the local jobs stop too (their runs keep their checkpoints)
        for job in jobs:
            job.cancel(check=False)
        print("interrupted: launch the same command again to resume", file=sys.stderr)
        return 130
    write_table(study_dir)
    summarize(study_dir)
    counts = report(study_dir, runs)
    if stopped or counts["unfinished"] or counts["missing"]:
        print("some runs did not finish: launch the same command again to resume them", file=sys.stderr)
    return 1 if stopped or counts["failed"] or counts["unfinished"] or counts["missing"] else 0


def summarize(study_dir):
    from summarize import summarize_table  # bin/summarize.py
    summarize_table(os.path.join(study_dir, "study.csv"), os.path.join(study_dir, "summary"))


if __name__ == "__main__":
    sys.exit(main())
