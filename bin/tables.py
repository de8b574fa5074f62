#!/usr/bin/env python
"""Every table of the documents that is made from results: each sits between a marker that
says what it is made from and an end marker, and is rewritten from its source.

    python bin/tables.py            # rewrite the tables of README.md and results/STUDY.md
    python bin/tables.py --check    # change nothing; exit 1 naming each table that differs

Markers (HTML comments, invisible on GitHub):
    <!-- table: pretrained NAME ... -->   the shipped models NAME... (bin/pretrained_card.py --table)
    <!-- table: seeds FILE -->            the "Over seeds" table of a study summary FILE (bin/summarize.py),
                                          one row per loss, labelled by the loss
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
from pretrained_card import table as pretrained_table

DOCUMENTS = ("README.md", os.path.join("results", "STUDY.md"))
MARKED = re.compile(r"(<!-- table: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def seeds_table(path):
    """The "Over seeds" table of a summary, its experiment column replaced by the loss's label
    and without its best-seed column (the run folders it names are not kept)."""
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    rows = [line for line in text.split("Over seeds", 1)[1].split("\n\n")[1].splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in row.strip("|").split("|")][:-1] for row in rows]
    header, body = cells[0], cells[2:]
    by_length = sorted(LOSSES, key=len, reverse=True)
    for row in body:
        loss = next((name for name in by_length if f"_{name}_" in f"_{row[0]}_"), None)
        row[0] = (LOSSES[loss].label or loss) if loss else row[0]
    header[0] = "loss"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body]) + "\n"


def make(spec):
    kind, *args = spec.split()
    if kind == "pretrained":
        results.RESULTS_DIR = os.path.join(ROOT, "results")  # the documents describe the shipped folders
        return pretrained_table(args)
    if kind == "seeds" and len(args) == 1:
        return seeds_table(args[0])
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
