#!/usr/bin/env python
"""Import a results folder of the reference toolkit (YannDubs/disentangling-vae) as a disvae
results folder, results/NAME/ (under $DISVAE_RESULTS when set), that every plot,
`--is-eval-only` and `--is-metrics` read as any other:

    python bin/import_reference.py PATH NAME [--license PATH/../LICENSE]
    python main.py NAME --is-eval-only --is-metrics     # test losses and every metric
    python main_viz.py NAME all

The conversion (layer names, the interleaved mean/log-variance rows) is disvae/reference.py.
"""
import argparse
import logging
import sys

import _repo  # noqa: F401  (puts the repository root on sys.path)

from disvae.options import run_name
from disvae.reference import import_reference
from disvae.results import run_dir
from utils.cli import OneLineParser, run_cli


def main(argv):
    parser = OneLineParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a results folder of the reference toolkit (model.pt, specs.json, ...)")
    parser.add_argument("name", type=run_name, help="the disvae results folder to write, results/NAME")
    parser.add_argument("--license", help="the reference toolkit's LICENSE, copied to results/NAME/reference/LICENSE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import_reference(args.path, run_dir(args.name), logging.getLogger("import_reference"), license_path=args.license)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
