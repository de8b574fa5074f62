#!/usr/bin/env python
"""Gather every results/*/ into one markdown table (experiment, loss, dataset, seed,
steps, final train and test losses, metrics), a table per experiment over its seeds
(the median and range of each metric, the seed with the best MIG), and two figures:
every metric by experiment (<out>.png), and each metric per experiment with one point
per seed (<out>_seeds.png). Runs `<experiment>_seed<k>` of bin/reproduce.sh count as
seeds of `<experiment>`.

    python bin/summarize.py [--results results] [--out results/summary] [--prefix repro_]
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from disvae.errors import DisvaeError  # noqa: E402
from disvae.metrics import HEADLINE_METRICS, METRIC_LABELS  # noqa: E402
from disvae.results import (SPECS_FILENAME, read_json, read_metrics, read_specs, read_train_losses,  # noqa: E402
                            read_train_steps, scalar_metrics)
from utils.io import atomic_write_text  # noqa: E402
from utils.plots import plt, save_figure  # noqa: E402

METRIC_COLUMNS = HEADLINE_METRICS
BEST_BY = "mig_histogram"  # the headline MIG, under the same key in metrics.log files of every version


def collect(results_dir, prefix=""):
    """One row per run folder below `results_dir` whose name starts with `prefix`; folders
    that are not runs (no specs.json) are skipped, unreadable ones reported."""
    rows = []
    for name in sorted(os.listdir(results_dir)):
        folder = os.path.join(results_dir, name)
        if not name.startswith(prefix) or not os.path.exists(os.path.join(folder, SPECS_FILENAME)):
            continue
        try:
            specs = read_specs(folder)
            last_epoch = {loss: value for _, loss, value in read_train_losses(folder)}
            test_path = os.path.join(folder, "test_losses.log")
            test = read_json(test_path, "test_losses.log") if os.path.exists(test_path) else {}
            metrics = scalar_metrics(read_metrics(folder))
            steps_log = read_train_steps(folder)
        except DisvaeError as err:
            print(f"skipped {name}: {err}", file=sys.stderr)
            continue
        rows.append({
            "experiment": name, "loss": specs["loss"], "dataset": specs["dataset"],
            "group": re.sub(r"_seed\d+$", "", name), "seed": specs["args"]["seed"],
            "steps": specs.get("global_step"), "status": specs.get("status", "?"),
            "train_loss": last_epoch.get("loss"), "test_loss": test.get("loss"), "metrics": metrics,
            "minutes": steps_log[-1]["wall_time_s"] / 60 if steps_log else None,
        })
    return rows


def fmt(value):
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown(rows):
    header = ["experiment", "loss", "dataset", "seed", "steps", "status", "train_loss", "test_loss"] + METRIC_COLUMNS
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row[k] for k in header[:8]] + [row["metrics"].get(m) for m in METRIC_COLUMNS]
        lines.append("| " + " | ".join(fmt(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def group_markdown(rows):
    """Per experiment over its finished seeds: seeds, steps, training minutes (median), each
    metric's median [min, max], and the seed with the highest MIG. Runs still training are
    counted beside the seeds, not in the statistics."""
    groups = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    header = ["experiment", "seeds", "steps", "minutes"] + [METRIC_LABELS.get(m, m) for m in METRIC_COLUMNS] + \
        ["best seed (MIG)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group, runs in groups.items():
        members = [r for r in runs if r.get("status", "done") == "done"]
        unfinished = len(runs) - len(members)
        seeds = f"{len(members)}" + (f" (+{unfinished} unfinished)" if unfinished else "")
        steps = [r["steps"] for r in members if r["steps"] is not None]
        minutes = [r["minutes"] for r in members if r["minutes"] is not None]
        cells = [group, seeds, f"{median(steps):.0f}" if steps else "-",
                 f"{median(minutes):.0f}" if minutes else "-"]
        for metric in METRIC_COLUMNS:
            values = [r["metrics"][metric] for r in members if metric in r["metrics"]]
            cells.append(f"{median(values):.2f} [{min(values):.2f}, {max(values):.2f}]" if values else "-")
        scored = [r for r in members if BEST_BY in r["metrics"]]
        best = max(scored, key=lambda r: r["metrics"][BEST_BY]) if scored else None
        cells.append(f"{best['experiment']} (seed {best['seed']})" if best else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(rows, path):
    with_metrics = [r for r in rows if r["metrics"]]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(METRIC_COLUMNS)), 4))
    width = 0.8 / max(len(with_metrics), 1)
    for i, row in enumerate(with_metrics):
        values = [row["metrics"].get(m, 0.0) for m in METRIC_COLUMNS]
        ax.bar([j + i * width for j in range(len(METRIC_COLUMNS))], values, width, label=row["experiment"])
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(METRIC_COLUMNS))], METRIC_COLUMNS, rotation=45,
                  ha="right", fontsize=8)
    ax.set_title("metrics by experiment" if with_metrics else "no metrics.log found")
    if with_metrics:
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def seeds_figure(rows, path):
    """One panel per metric: experiments along x, one point per seed, the median as a bar."""
    with_metrics = [r for r in rows if r["metrics"]]
    groups = list(dict.fromkeys(r["group"] for r in with_metrics))
    metrics = [m for m in METRIC_COLUMNS if any(m in r["metrics"] for r in with_metrics)] or METRIC_COLUMNS[:1]
    n_cols = min(3, len(metrics))
    n_rows = -(-len(metrics) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(max(4.0, 0.6 * len(groups) + 1.5) * n_cols, 3 * n_rows),
                             squeeze=False)
    for ax, metric in zip(axes.ravel(), metrics):
        for x, group in enumerate(groups):
            values = [r["metrics"][metric] for r in with_metrics if r["group"] == group and metric in r["metrics"]]
            if values:
                ax.bar(x, median(values), color="tab:blue", alpha=0.3, width=0.6)
                ax.plot([x] * len(values), values, "o", color="tab:blue", ms=4)
        ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=9)
        ax.set_xticks(range(len(groups)), groups, rotation=45, ha="right", fontsize=7)
    for ax in axes.ravel()[len(metrics):]:
        ax.axis("off")
    fig.suptitle("one point per seed" if with_metrics else "no metrics.log found", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "results"))
    parser.add_argument("--out", default=None, help="output path without extension (default: <results>/summary)")
    parser.add_argument("--prefix", default="", help="only the runs whose name starts with this")
    args = parser.parse_args()
    if not os.path.isdir(args.results):
        sys.exit(f"error: no results folder {args.results}")
    out = args.out or os.path.join(args.results, "summary")
    rows = collect(args.results, args.prefix)
    table = markdown(rows) + "\nOver seeds (median [min, max]):\n\n" + group_markdown(rows)
    atomic_write_text(out + ".md", table)
    figure(rows, out + ".png")
    seeds_figure(rows, out + "_seeds.png")
    print(table)
    print(f"wrote {out}.md, {out}.png and {out}_seeds.png ({len(rows)} experiments)")


if __name__ == "__main__":
    main()
