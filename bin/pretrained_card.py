#!/usr/bin/env python
"""Write results/<name>/PRETRAINED.md for a model shipped with disvae: how it was trained
(the command, rebuilt from its specs.json against its experiment's defaults; steps, time
and images/s from train_steps.csv), its metrics, and how to use it. A folder with this
file is never trained over: `python main.py -x <experiment>` then writes my_<experiment>.

    python bin/pretrained_card.py NAME [NAME ...] [--budget "8 minutes, 1 CPU thread"]
    python bin/pretrained_card.py --table NAME [NAME ...]   # the README's table of these models
"""
import argparse
import math
import os

import _repo  # noqa: F401  (puts the repository root on sys.path)

from disvae.config import all_options, experiment_parameters
from disvae.datasets import get_dataset
from disvae.evaluate import metrics_provenance, reusable_metrics
from disvae.experiment import RESUME_KEYS, planned_steps
from disvae.io import atomic_write_text
from disvae.losses import LOSSES
from disvae.metrics import DEFAULT_METRICS, HEADLINE_METRICS, METRIC_LABELS
from disvae.modelio import load_model
from disvae.results import (SHIPPED_MARK, read_metrics, read_specs, read_train_steps, rendering_note,
                            run_dir)

# parameters that do not change what is trained: those --resume may change but the budget, and the run's bookkeeping
BUDGET_KEYS = {"epochs", "max_steps", "max_minutes"}
NOT_TRAINING = (set(RESUME_KEYS) - BUDGET_KEYS) | {"name", "resume", "archive", "is_eval_only", "experiment"}


def flag(key, value):
    name = all_options()[key].flag
    if isinstance(value, bool):
        return name if value else ""
    return f"{name} {' '.join(map(str, value)) if isinstance(value, list) else value}"


def training_command(name, run_args):
    """`python main.py NAME -x EXP` plus every training parameter that differs from EXP."""
    experiment = run_args.get("experiment", "custom")
    defaults = vars(experiment_parameters(experiment))
    flags = [flag(k, v) for k, v in sorted(run_args.items()) if k not in NOT_TRAINING and defaults.get(k) != v]
    return " ".join(["python main.py", name] + (["-x", experiment] if experiment != "custom" else []) +
                    [f for f in flags if f])


def recompute_note(folder, metrics):
    """What `--is-eval-only --is-metrics` would do with this folder's metrics.log: reuse
    every family (same weights, sample counts, seed, seeding and version), or recompute some."""
    model, specs = load_model(folder)
    provenance = metrics_provenance(model, seed=metrics.get("seed", 0),
                                    dataset_version=get_dataset(specs["dataset"]).version)
    _, kept = reusable_metrics(folder, provenance)
    stale = [family for family in DEFAULT_METRICS if family not in kept]
    if not stale:
        return "recomputes nothing: metrics.log matches these weights"
    return (f"recomputes {', '.join(stale)}: metrics.log records them under an earlier seeding, version or "
            "rendering of the dataset")


def card(name, budget, folder=None):
    """Write the card of the model `name` into its folder (results/<name>/ unless `folder`)."""
    folder = folder or run_dir(name)
    specs, metrics = read_specs(folder), read_metrics(folder)
    if "imported_from" in specs:
        return imported_card(name, folder, specs, metrics)
    run_args, row = specs["args"], read_train_steps(folder)[-1]
    steps, seconds = specs["global_step"], float(row["wall_time_s"])
    images = steps * run_args["batch_size"]
    command = training_command(name, run_args)
    lines = [f"# {name}: pretrained {specs['loss']} on {specs['dataset']}", "",
             "Shipped with disvae so that its plots and metrics can be seen without training. "
             f"`python main.py -x {run_args.get('experiment', name)}` trains your own into "
             f"`results/my_{run_args.get('experiment', name)}/` and never touches this folder.", "",
             "## Training", "",
             f"- Budget: {budget}; stopped by `--max-minutes`/`--max-steps` after {steps:,} steps "
             f"({images:,} images, {images / specs['n_data']:.2f} epochs, {seconds / 60:.1f} min of training, "
             f"{images / seconds:.0f} img/s).",
             f"- Model: {specs['model_type']}, {specs['latent_dim']} latents; seed {run_args['seed']}; "
             f"torch {specs['versions']['torch']}.",
             schedule_note(run_args, steps, specs["n_data"]),
             f"- Data: {data_note(specs)}",
             "- Command:", "", "```bash", command, "```", ""]
    lines += metrics_and_use(name, folder, metrics)
    atomic_write_text(os.path.join(folder, SHIPPED_MARK), "\n".join(lines))
    return os.path.join(folder, SHIPPED_MARK)


def schedule_note(run_args, steps, n_data):
    """The run's schedules: its loss's own (Ada-TVAE's, over the steps planned for one process),
    else its --reg-anneal schedule and whether it is its experiment's own or scaled to the budget."""
    planned = planned_steps(run_args["epochs"], math.ceil(n_data / run_args["batch_size"]), run_args.get("max_steps"))
    own_note = LOSSES[run_args["loss"]].schedule_note(run_args, planned)
    if own_note is not None:
        return own_note
    ours = run_args.get("reg_anneal")
    own = vars(experiment_parameters(run_args.get("experiment", "custom"))).get("reg_anneal")
    if not ours:
        return "- Schedules: none (`--reg-anneal 0`: the regularisation at full strength from the first step)."
    reach = f"full strength at step {ours:,}" + (f", beyond this run's {steps:,} steps" if ours > steps else "")
    if ours == own:
        return f"- Schedules: the experiment's own, `--reg-anneal {ours:,}` ({reach})."
    return (f"- Schedules: scaled to the budget, `--reg-anneal {ours:,}` instead of the experiment's {own:,} "
            f"(`bin/study.py --scale-schedules`; {reach}).")


def data_note(specs):
    """Which images the model was trained on, and whether they are the ones disvae renders now."""
    trained = specs.get("dataset_version", 1)
    note = rendering_note(specs)
    if note is None:
        return f"{specs['dataset']}, rendering version {trained} (the current one)."
    return (f"{specs['dataset']}, rendering version {trained}, not the current one: {note}. Its metrics.log was "
            f"computed on version {trained}, the images it was trained on.")


def metrics_and_use(name, folder, metrics):
    lines = ["## Metrics", "",
             f"Standard sample counts (`python main.py {name} --is-eval-only --is-metrics`), seed "
             f"{metrics.get('seed')}; `metrics.log` has every key, per-factor values and the seconds.", "",
             "| metric | value |", "| --- | --- |"]
    lines += [f"| {label} | {metrics[key]:.3f} |" for key, label in METRIC_LABELS.items() if key in metrics]
    lines += ["", "## Use", "", "```bash",
              f"python main_viz.py {name} all -s 1          # every plot and GIF",
              f"python main_viz.py {name} latents           # what each latent encodes",
              f"python main.py {name} --is-eval-only --is-metrics   # {recompute_note(folder, metrics)}",
              "```", ""]
    return lines


def imported_card(name, folder, specs, metrics):
    """The card of a model trained by the reference toolkit and imported (bin/import_reference.py)."""
    source = specs["imported_from"]
    arguments = source["arguments"]
    lines = [f"# {name}: {specs['loss']} on {specs['dataset']}, trained by the reference toolkit", "",
             f"Trained by the reference toolkit ({source['toolkit']}, MIT License: `reference/LICENSE`) and shipped in "
             "its `results/`; imported into disvae with `python bin/import_reference.py PATH "
             f"{name}` (disvae/reference.py), so that its numbers stand beside disvae's own models: same images, same "
             "metrics. Its own files are under `reference/`.", "",
             "## Training (by the reference toolkit)", "",
             f"- {arguments.get('epochs')} epochs at batch {arguments.get('batch_size')} on {source['trained_on']}: "
             f"{specs['global_step']:,} steps; lr {arguments.get('lr')}, seed {arguments.get('seed')}, "
             f"{specs['latent_dim']} latents, {arguments.get('rec_dist')} reconstruction.",
             f"- Its arguments (`reference/specs.json`): experiment `{arguments.get('experiment')}`, "
             + ", ".join(f"`{k}` {v}" for k, v in sorted(arguments.items()) if k.startswith(specs["loss"] + "_")
                         or k == "reg_anneal") + ".",
             f"- Data: {data_note(specs)} disvae renders dSprites pixel-identical to the official file for squares and "
             "ellipses and within 3 pixels for hearts (tests/test_datasets.py), so its metrics here are computed "
             "on the images it was trained on.",
             "- Its `reference/test_losses.log` is the reference's own, computed on one batch"
             + ("; `test_losses.log` is disvae's, over every image." if os.path.exists(
                 os.path.join(folder, "test_losses.log")) else "."), ""]
    lines += metrics_and_use(name, folder, metrics)
    atomic_write_text(os.path.join(folder, SHIPPED_MARK), "\n".join(lines))
    return os.path.join(folder, SHIPPED_MARK)




def table_row(name):
    folder = run_dir(name)
    specs, metrics = read_specs(folder), read_metrics(folder)
    label = LOSSES[specs["loss"]].label or specs["loss"]
    if specs["dataset"] != "dsprites":
        label += f", {specs['dataset']}"
    if name not in (f"{specs['loss']}_{specs['dataset']}", f"reference_{specs['loss']}_{specs['dataset']}"):
        label += f" ({name})"
    imported = "imported_from" in specs
    steps_log = read_train_steps(folder)
    minutes = f"{float(steps_log[-1]['wall_time_s']) / 60:.0f}" if steps_log else "-"
    data = "official file" if imported else f"v{specs.get('dataset_version', 1)}"
    trained_by = "reference toolkit" if imported else "disvae"
    cells = [f"[{label}](results/{name}/{SHIPPED_MARK})", trained_by, data, f"{specs['global_step']:,}", minutes,
             str(specs["args"]["seed"])]
    cells += [f"{metrics[key]:.2f}" if key in metrics else "-" for key in HEADLINE_METRICS]
    return "| " + " | ".join(cells) + " |"


def table(names):
    """The markdown table of the shipped models `names`: steps, training minutes, seed, headline metrics."""
    header = ["model", "trained by", "images", "steps", "minutes", "seed"] + [METRIC_LABELS.get(key, key)
                                                                              for key in HEADLINE_METRICS]
    return "\n".join(["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)] +
                      [table_row(name) for name in names]) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--table", action="store_true", help="print the README's table of these models instead")
    parser.add_argument("--budget", default="8 minutes of training on one CPU thread (2-core machine, 2 runs at once)")
    args = parser.parse_args()
    if args.table:
        print(table(args.names), end="")
        return
    for name in args.names:
        print("wrote", card(name, args.budget))


if __name__ == "__main__":
    main()
