#!/usr/bin/env python
"""Ship the best of a study's seeds as a pretrained model: the seed with the highest headline
MIG among finished runs is copied, without its checkpoints, to results/<NAME>/ (its specs
renamed), and given its card (bin/pretrained_card.py), which names every seed's MIG.

    python bin/ship.py betaB_dsprites v2_betaB_dsprites v2_betaB_dsprites_seed1235 \\
        v2_betaB_dsprites_seed1236 --budget "20,000 steps on one CPU thread" [--replace]

The new folder is assembled beside the old one and swapped in; an existing results/<NAME>/
is replaced only with --replace, and only when it is a shipped model (it has a card).
"""
import argparse
import os
import shutil
import sys

import _repo  # noqa: F401  (puts the repository root on sys.path)

from disvae.errors import DisvaeError
from disvae.io import atomic_write_json
from disvae.metrics import METRIC_LABELS
from disvae.results import (CHECKPOINT_NAME, MODEL_FILENAME, POINTER_FILENAME, SPECS_FILENAME, is_shipped,
                            read_json, read_metrics, read_specs, run_dir)
from pretrained_card import card
from summarize import BEST_BY


def finished_runs(names):
    """(name, seed, headline MIG) of each run, every one finished and scored, else an error."""
    runs = []
    for name in names:
        folder = run_dir(name)
        specs, metrics = read_specs(folder), read_metrics(folder)
        if specs.get("status") != "done" or not os.path.exists(os.path.join(folder, MODEL_FILENAME)):
            raise DisvaeError(f"{folder} is not a finished run (status {specs.get('status')}); finish it first")
        if BEST_BY not in metrics:
            raise DisvaeError(f"{folder}/metrics.log has no {BEST_BY}; score it with "
                              f"`python main.py {name} --is-eval-only --is-metrics`")
        runs.append((name, specs["args"]["seed"], metrics[BEST_BY]))
    return runs


def best_of(runs):
    """The run with the highest headline MIG, and the card's sentence saying how it was chosen."""
    best = max(runs, key=lambda run: run[2])
    scores = ", ".join(f"{seed}: {value:.3f}" for _, seed, value in sorted(runs, key=lambda run: run[1]))
    label = METRIC_LABELS.get(BEST_BY, BEST_BY)
    how = (f"one seed, not a best of several ({label} " if len(runs) == 1
           else f"the best by {label} of {len(runs)} seeds (")
    return best, f"{how}{scores}), trained as results/{best[0]}"


def copy_run(source, destination, name):
    """Every file of run `source` but its checkpoints, into `destination`, its specs renamed `name`."""
    os.makedirs(destination)
    for entry in os.listdir(source):
        path = os.path.join(source, entry)
        if entry.startswith(".") or entry == POINTER_FILENAME or CHECKPOINT_NAME.fullmatch(entry):
            continue
        (shutil.copytree if os.path.isdir(path) else shutil.copy2)(path, os.path.join(destination, entry))
    specs = read_json(os.path.join(destination, SPECS_FILENAME), SPECS_FILENAME)
    specs["args"]["name"] = name
    atomic_write_json(os.path.join(destination, SPECS_FILENAME), specs)


def ship(name, names, budget, replace=False):
    """results/`name`/: the best of runs `names`, with its card; returns (best run, card path)."""
    target = run_dir(name)
    if os.path.exists(target) and not (replace and is_shipped(target)):
        raise DisvaeError(f"{target} exists; " + ("it is not a shipped model (no card), so it is kept"
                                                  if replace else "add --replace to replace the shipped model"))
    best, how = best_of(finished_runs(names))
    staging, old = run_dir(f".{name}.shipping"), run_dir(f".{name}.replaced")
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    copy_run(run_dir(best[0]), staging, name)
    written = card(name, f"{budget}; {how}", folder=staging)
    if os.path.exists(target):
        os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return best, os.path.join(target, os.path.basename(written))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the shipped model: results/<name>/")
    parser.add_argument("runs", nargs="+", help="the seeds' run folders (names in results/)")
    parser.add_argument("--budget", required=True, help="the card's budget line, e.g. '20,000 steps on one CPU thread'")
    parser.add_argument("--replace", action="store_true", help="replace the shipped model results/<name>/")
    args = parser.parse_args(argv)
    try:
        (run, seed, value), path = ship(args.name, args.runs, args.budget, args.replace)
    except DisvaeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"shipped {run} (seed {seed}, {METRIC_LABELS.get(BEST_BY, BEST_BY)} {value:.3f}) as {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
