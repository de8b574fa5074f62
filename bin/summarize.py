#!/usr/bin/env python
"""Summaries of a table of runs (a study's study.csv, see bin/study.py): one markdown
table (run, loss, dataset, seed, steps, final train and test losses, headline metrics), a
table per group of seeds (the median and range of each metric, the seed with the best
MIG), the Spearman rank correlation between metrics, and figures: every metric by run
(<out>.png), each metric per group with one point per seed (<out>_seeds.png), each
metric against each varied hyperparameter per loss (<out>_values.png) and the rank
correlations (<out>_spearman.png).

    python bin/summarize.py results/mystudy/study.csv [--out results/mystudy/summary]
    python bin/summarize.py [--results DIR] [--prefix repro_] [--finished] [--out DIR/summary]

Without a table, the run folders of --results (default $DISVAE_RESULTS, else results/)
whose names start with --prefix are gathered into <out>.csv first (the columns of a
study.csv), and that table is summarised. Runs `<name>_seed<k>` are seeds of `<name>`.
"""
import argparse
import csv
import io
import os
import re
import sys

import _repo  # noqa: F401  (puts the repository root on sys.path)

from disvae import results
from disvae.config import all_options
from disvae.errors import DisvaeError
from disvae.io import atomic_write_text
from disvae.metrics import HEADLINE_METRICS, METRIC_LABELS
from disvae.results import SPECS_FILENAME
from disvae.study import RUN_COLUMNS, read_table, run_row
from utils.plots import plt, save_figure

METRIC_COLUMNS = HEADLINE_METRICS
BEST_BY = "mig_histogram"  # the headline MIG, under the same key in metrics.log files of every version


def table_of_folders(results_dir, prefix="", finished=False):
    """study.csv-like rows of the run folders below `results_dir` whose name starts with
    `prefix` (with `finished`, only those whose training and metrics are done); folders that
    are not runs (no specs.json) are skipped, unreadable ones reported."""
    rows = []
    for name in sorted(os.listdir(results_dir)):
        folder = os.path.join(results_dir, name)
        if not name.startswith(prefix) or not os.path.exists(os.path.join(folder, SPECS_FILENAME)):
            continue
        try:
            row = run_row(folder, [])
        except DisvaeError as err:
            print(f"skipped {name}: {err}", file=sys.stderr)
            continue
        if not finished or row["state"] == "done":
            rows.append(row)
    return rows


def write_csv(rows, path):
    columns = list(dict.fromkeys(RUN_COLUMNS + [k for row in rows for k in row]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def from_table(row, options=None):
    """A table row as the summaries read it: its metrics apart, its group (the run's name
    without _seed<k>), the values of its options (`options`: all_options(), once per table)."""
    options = options or all_options()
    metrics = {k: v for k, v in row.items() if isinstance(v, float) and k not in RUN_COLUMNS
               and not k.startswith(("train_", "test_")) and k not in options}
    whole = (lambda v: int(v) if isinstance(v, float) else v)
    return {"experiment": row["run"], "loss": row.get("loss"), "dataset": row.get("dataset"),
            "group": re.sub(r"_seed\d+$", "", row["run"]), "seed": whole(row.get("seed")),
            "steps": whole(row.get("steps")), "status": row.get("state", "?"),
            "train_loss": row.get("train_loss"), "test_loss": row.get("test_loss"),
            "minutes": row.get("minutes"), "metrics": metrics,
            "values": {k: v for k, v in row.items() if k in options and k not in ("seed", "dataset", "loss")}}


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


def values_figure(rows, path):
    """Per loss, each headline metric against each hyperparameter it varies (one point per
    seed, the median joined), as Locatello et al. draw them."""
    panels = []
    for loss in dict.fromkeys(r["loss"] for r in rows):
        mine = [r for r in rows if r["loss"] == loss and r["metrics"]]
        for option in sorted({k for r in mine for k in r["values"]}):
            if len({r["values"].get(option) for r in mine}) > 1:
                panels.append((loss, option, mine))
    metrics = [m for m in METRIC_COLUMNS if any(m in r["metrics"] for r in rows)]
    fig, axes = plt.subplots(max(len(panels), 1), max(len(metrics), 1), squeeze=False,
                             figsize=(2.6 * max(len(metrics), 1), 2.2 * max(len(panels), 1)))
    for i, (loss, option, mine) in enumerate(panels):
        for j, metric in enumerate(metrics):
            ax = axes[i, j]
            points = sorted((r["values"][option], r["metrics"][metric]) for r in mine if metric in r["metrics"])
            if points:
                ax.plot(*zip(*points), "o", ms=3, color="tab:blue")
                xs = sorted({x for x, _ in points})
                ax.plot(xs, [median([y for x, y in points if x == v]) for v in xs], "-", color="tab:blue")
            ax.set_title(f"{loss}: {METRIC_LABELS.get(metric, metric)}", fontsize=7)
            ax.set_xlabel(option, fontsize=7)
            ax.tick_params(labelsize=6)
    if not panels:
        axes[0, 0].set_title("no hyperparameter varies", fontsize=8)
        for ax in axes.ravel():
            ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path)


def spearman(rows):
    """(metrics, matrix) of Spearman rank correlations between the headline metrics over
    the runs that have both (None where fewer than 3 do)."""
    from scipy.stats import spearmanr
    metrics = [m for m in METRIC_COLUMNS if sum(m in r["metrics"] for r in rows) >= 3]
    matrix = []
    for a in metrics:
        line = []
        for b in metrics:
            pairs = [(r["metrics"][a], r["metrics"][b]) for r in rows if a in r["metrics"] and b in r["metrics"]]
            constant = any(len({pair[i] for pair in pairs}) < 2 for i in (0, 1))  # no ranks: undefined
            rho = spearmanr(*zip(*pairs))[0] if len(pairs) >= 3 and not constant else None
            line.append(None if rho is None or rho != rho else float(rho))
        matrix.append(line)
    return metrics, matrix


def spearman_markdown(metrics, matrix):
    if not metrics:
        return "(fewer than 3 runs with metrics)\n"
    labels = [METRIC_LABELS.get(m, m) for m in metrics]
    lines = ["| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for label, line in zip(labels, matrix):
        lines.append(f"| {label} | " + " | ".join("-" if v is None else f"{v:.2f}" for v in line) + " |")
    return "\n".join(lines) + "\n"


def spearman_figure(metrics, matrix, path):
    fig, ax = plt.subplots(figsize=(1 + 0.7 * max(len(metrics), 2), 1 + 0.6 * max(len(metrics), 2)))
    if metrics:
        values = [[float("nan") if v is None else v for v in line] for line in matrix]
        image = ax.imshow(values, vmin=-1, vmax=1, cmap="RdBu")
        labels = [METRIC_LABELS.get(m, m) for m in metrics]
        ax.set_xticks(range(len(metrics)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(metrics)), labels, fontsize=7)
        fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title("Spearman rank correlation between metrics" if metrics else "fewer than 3 runs", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def summarize_table(table_path, out):
    """Every summary of the table at `table_path`, written to <out>.md and <out>*.png; returns the markdown."""
    options = all_options()
    rows = [from_table(row, options) for row in read_table(table_path)]
    metrics, matrix = spearman([r for r in rows if r["status"] == "done"])
    text = markdown(rows) + "\nOver seeds (median [min, max]):\n\n" + group_markdown(rows) + \
        "\nSpearman rank correlation between metrics (finished runs):\n\n" + spearman_markdown(metrics, matrix)
    atomic_write_text(out + ".md", text)
    figure(rows, out + ".png")
    seeds_figure(rows, out + "_seeds.png")
    values_figure(rows, out + "_values.png")
    spearman_figure(metrics, matrix, out + "_spearman.png")
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", nargs="?", help="a study.csv (default: gather the folders of --results)")
    parser.add_argument("--results", default=results.RESULTS_DIR, help="folder of runs (default $DISVAE_RESULTS, "
                        "else results/)")
    parser.add_argument("--out", default=None, help="output path without extension (default: <results>/summary, "
                        "or the table's folder/summary)")
    parser.add_argument("--prefix", default="", help="only the runs whose name starts with this")
    parser.add_argument("--finished", action="store_true", help="gather only the runs whose training and metrics "
                        "are done (default: runs still training are rows too, marked running)")
    args = parser.parse_args(argv)
    if args.table:
        table, out = args.table, args.out or os.path.join(os.path.dirname(os.path.abspath(args.table)), "summary")
    else:
        if not os.path.isdir(args.results):
            sys.exit(f"error: no results folder {args.results}")
        out = args.out or os.path.join(args.results, "summary")
        table = out + ".csv"
        write_csv(table_of_folders(args.results, args.prefix, args.finished), table)
    try:
        text = summarize_table(table, out)
    except DisvaeError as err:
        sys.exit(f"error: {err}")
    print(text)
    print(f"wrote {out}.md and its figures (.png, _seeds.png, _values.png, _spearman.png) from {table}")


if __name__ == "__main__":
    main()
