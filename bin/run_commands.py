#!/usr/bin/env python
"""Run the commands read from stdin (one per line, split into words: no shell, so
nothing in a results folder name runs as code), N at a time on this machine through the
same runner as bin/study.py (submitit's local executor): N workers, each with its share
of the cores and, where there are GPUs, GPU k mod (the visible GPUs); a failing command
is reported and the others still run. Exit status 1 if any failed.

    ls -d results/*/ | sed 's|results/\\(.*\\)/|python main_viz.py \\1 all|' | python bin/run_commands.py -j 2
"""
import argparse
import sys
import tempfile

import _repo  # noqa: F401  (puts the repository root on sys.path)

from disvae.study import CommandJobs, submit_local


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-j", "--jobs", type=int, default=1, help="commands at once (default 1)")
    parser.add_argument("--logs", default=None, help="folder of the runner's logs (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("-j takes a positive integer")
    commands = [line.split() for line in sys.stdin.read().splitlines() if line.strip()]
    if not commands:
        return 0
    logs = args.logs or tempfile.mkdtemp(prefix="disvae-jobs-")
    jobs = submit_local(CommandJobs, commands, args.jobs, logs)
    failed = []
    for job in jobs:
        failed += job.result()
        sys.stdout.write(job.stdout() or "")
        sys.stderr.write(job.stderr() or "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
