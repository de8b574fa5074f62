#!/usr/bin/env python
"""Every table of the documents that is made from results: each sits between a marker that
says what it is made from and an end marker, and is rewritten from its source.

    python bin/tables.py            # rewrite the tables of README.md and results/STUDY.md
    python bin/tables.py --check    # change nothing; exit 1 naming each table that differs

Markers (HTML comments, invisible on GitHub):
    <!-- table: pretrained NAME ... -->   the shipped models NAME... (bin/pretrained_card.py --table)
    <!-- table: seeds FILE -->            the "Over seeds" table of a study summary FILE (bin/summarize.py),
                                          one row per loss, labelled by the loss, without the metrics
                                          no run computed
    <!-- table: groups FILE -->           the same table, one row per grid point, labelled by what its
                                          name adds to the names' common prefix (a study of one loss)
    <!-- table: curve RUN -->             the metric curve of results/RUN (--metrics-every)
    <!-- /table -->
"""
import argparse
import os
import re
import sys

import _repo  # noqa: F401  (puts the repository root on sys.path)
from _repo import ROOT
from disvae import results
from disvae.io import atomic_write_text
from disvae.losses import LOSSES
from disvae.metrics import METRIC_LABELS
from pretrained_card import table as pretrained_table
from utils.plots import CURVE_KEYS

DOCUMENTS = ("README.md", os.path.join("results", "STUDY.md"))
MARKED = re.compile(r"(<!-- table: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def over_seeds(path):
    """(header, rows) of the "Over seeds" table of a summary, without its best-seed column
    (the run folders it names are not all kept)."""
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    rows = [line for line in text.split("Over seeds", 1)[1].split("\n\n")[1].splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in row.strip("|").split("|")][:-1] for row in rows]
    return cells[0], cells[2:]


def markdown(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body]) + "\n"


def seeds_table(path):
    """The "Over seeds" table of a summary, its experiment column replaced by the loss's label."""
    header, body = over_seeds(path)
    by_length = sorted(LOSSES, key=len, reverse=True)
    for row in body:
        loss = next((name for name in by_length if f"_{name}_" in f"_{row[0]}_"), None)
        row[0] = (LOSSES[loss].label or loss) if loss else row[0]
    return computed_columns(["loss", *header[1:]], body)


def computed_columns(header, body):
    """The markdown table without the columns of metrics no run computed."""
    kept = [i for i in range(len(header)) if any(row[i] != "-" for row in body)]
    return markdown([header[i] for i in kept], [[row[i] for i in kept] for row in body])


def groups_table(path):
    """The "Over seeds" table of a summary, each grid point labelled by what its name adds to
    the common prefix of the names (betaH_xysquares_xysquares_spacing-8 -> 8); when every label
    is a number, in its order and the column named by the prefix's last word (spacing);
    without the columns of metrics no run computed."""
    header, body = over_seeds(path)
    prefix = os.path.commonprefix([row[0] for row in body]) if len(body) > 1 else ""
    cut = max(prefix.rfind("-"), prefix.rfind("_")) + 1
    for row in body:
        row[0] = row[0][cut:]
    if all(re.fullmatch(r"[0-9.]+", row[0]) for row in body):
        body.sort(key=lambda row: float(row[0]), reverse=True)
        header = [prefix[:cut].rstrip("-_").rsplit("_", 1)[-1] or header[0], *header[1:]]
    return computed_columns(header, body)


def curve_table(name):
    """Epoch, step, hours and every MIG estimate of results/NAME's metrics_curve.csv, and of its
    metrics.log when the run stopped after the curve's last point."""
    rows = results.read_metric_curve(os.path.join(ROOT, "results", name))
    keys = [key for key in CURVE_KEYS if any(key in row for row in rows)]
    header = ["epoch", "step", "hours"] + [METRIC_LABELS.get(key, key) for key in keys]
    body = [[str(row["epoch"]), f"{row['step']:,}", f"{row['wall_time_s'] / 3600:.2f}",
             *(f"{row[key]:.3f}" if key in row else "" for key in keys)] for row in rows]
    folder = os.path.join(ROOT, "results", name)
    step = results.read_specs(folder).get("global_step") if os.path.exists(os.path.join(folder, "specs.json")) \
        else None
    final = results.read_metrics(folder)
    if rows and step and step > rows[-1]["step"] and final:  # stopped after the last point: its metrics.log
        epoch = step * rows[-1]["epoch"] / rows[-1]["step"]
        body.append([f"{epoch:.2f} (end)", f"{step:,}", "-", *(f"{final[key]:.3f}" if key in final else ""
                                                              for key in keys)])
    return markdown(header, body)


def make(spec):
    kind, *args = spec.split()
    if kind == "pretrained":
        results.RESULTS_DIR = os.path.join(ROOT, "results")  # the documents describe the shipped folders
        return pretrained_table(args)
    if kind == "seeds" and len(args) == 1:
        return seeds_table(args[0])
    if kind == "groups" and len(args) == 1:
        return groups_table(args[0])
    if kind == "curve" and len(args) == 1:
        return curve_table(args[0])
    raise ValueError(f"unknown table {spec!r}")


def regenerate(text, folder=""):
    """(the text with every marked table made anew, [specs of the tables that changed]); links
    are made relative to the document's `folder` (relative to the repository)."""
    changed = []

    def replace(match):
        body = make(match.group("spec"))
        if folder:
            body = body.replace(f"]({folder}/", "](")
        if body != match.group("body"):
            changed.append(match.group("spec"))
        return match.group(1) + body + match.group(4)
    return MARKED.sub(replace, text), changed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table differs")
    args = parser.parse_args()
    stale = []
    for document in DOCUMENTS:
        path = os.path.join(ROOT, document)
        text, changed = regenerate(open(path, encoding="utf-8").read(), os.path.dirname(document))
        stale += [f"{document}: {spec}" for spec in changed]
        if changed and not args.check:
            atomic_write_text(path, text)
    for line in stale:
        print(("stale " if args.check else "rewrote ") + line)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
