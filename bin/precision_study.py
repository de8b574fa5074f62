#!/usr/bin/env python
"""bfloat16 fidelity study: the same seeds trained in float32 and with bfloat16 autocast
at equal steps, then the same metrics; does bf16 move the metrics by more than
changing the seed does?

    python bin/precision_study.py [--losses betaH btcvae] [--seeds 1 2] [--steps 1500]
                                  [--metrics-samples 3000] [-j 1] [--threads T] [--out results/precision_study]

Runs are results/prec_<loss>_<fp32|bf16>_seed<k>/ (finished ones are reused). For each
loss and metric the table gives both precisions' values per seed, the difference of
the means, and the seed-to-seed spread (the largest range over seeds of either
precision); bf16 "agrees" where the difference is within that spread. Training seconds
and the last logged training loss are reported beside them.
"""
import argparse
import os
import sys
import tempfile

from _repo import ROOT  # the repository root (now on sys.path)

from disvae import results
from disvae.errors import DisvaeError
from disvae.io import atomic_write_text
from disvae.metrics import HEADLINE_METRICS
from disvae.results import read_metrics, read_specs, read_train_steps, scalar_metrics
from disvae.runtime import available_cores
from disvae.study import CommandJobs, submit_local

PRECISIONS = ("fp32", "bf16")
# reported, not compared: training seconds and the last logged training loss
RUN_COLUMNS = {"training seconds": "wall_time_s", "training loss (last 100 steps)": "loss"}
COLUMNS = HEADLINE_METRICS


def run_name(loss, precision, seed):
    return f"prec_{loss}_{precision}_seed{seed}"


def finished(folder):
    try:
        return read_specs(folder).get("status") == "done" and bool(read_metrics(folder))
    except DisvaeError:
        return False


def command(loss, precision, seed, args, threads):
    cmd = [sys.executable, os.path.join(ROOT, "main.py"), run_name(loss, precision, seed), "-x",
           f"{loss}_dsprites", "-s", str(seed), "--max-steps", str(args.steps), "--is-metrics",
           "--metrics-samples", str(args.metrics_samples), "--no-test", "--no-progress-bar",
           "--threads", str(threads), "--precision", precision]
    return cmd


def train_all(args):
    """Every (loss, precision, seed) run not finished yet, `args.jobs` at a time."""
    threads = args.threads or max(1, available_cores() // args.jobs)
    todo = [(loss, precision, seed) for loss in args.losses for seed in args.seeds for precision in PRECISIONS
            if not finished(os.path.join(args.results, run_name(loss, precision, seed)))]
    for folder in {run_name(*key) for key in todo}:  # an unfinished earlier attempt is replaced
        path = os.path.join(args.results, folder)
        if os.path.exists(path) and os.listdir(path):
            print(f"{path} is unfinished; remove it or finish it with `python main.py {folder} --resume`",
                  file=sys.stderr)
            return 1

    if not todo:
        return 0
    # the runner of bin/study.py and bin/run_commands.py: args.jobs workers on this machine
    jobs = submit_local(CommandJobs, [command(*key, args, threads) for key in todo], args.jobs,
                        tempfile.mkdtemp(prefix="disvae-precision-"))
    failed = [command for job in jobs for command in job.result()]
    return 1 if failed else 0


def spread(values):
    return max(values) - min(values) if values else float("nan")


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def compare(args):
    """(markdown table, every metric agrees)."""
    lines = [f"bf16 fidelity: {len(args.seeds)} seeds ({', '.join(map(str, args.seeds))}), {args.steps} steps, "
             f"metrics at --metrics-samples {args.metrics_samples}", "",
             "| loss | metric | fp32 per seed | bf16 per seed | bf16 - fp32 (means) | seed spread | agrees |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    agree_all = True
    for loss in args.losses:
        metrics = {p: [scalar_metrics(read_metrics(os.path.join(args.results, run_name(loss, p, s))))
                       for s in args.seeds] for p in PRECISIONS}
        for column in list(RUN_COLUMNS) + COLUMNS:
            if column in RUN_COLUMNS:
                values = {p: [last_logged(os.path.join(args.results, run_name(loss, p, s)), RUN_COLUMNS[column])
                              for s in args.seeds] for p in PRECISIONS}
            else:
                values = {p: [m.get(column) for m in metrics[p]] for p in PRECISIONS}
            if any(v is None for p in PRECISIONS for v in values[p]):
                continue
            diff = mean(values["bf16"]) - mean(values["fp32"])
            allowed = max(spread(values["fp32"]), spread(values["bf16"]))
            agrees = abs(diff) <= allowed
            agree_all &= agrees or column in RUN_COLUMNS
            lines.append(f"| {loss} | {column} | {' '.join(f'{v:.3f}' for v in values['fp32'])} | "
                         f"{' '.join(f'{v:.3f}' for v in values['bf16'])} | {diff:+.3f} | {allowed:.3f} | "
                         f"{'(reported)' if column in RUN_COLUMNS else 'yes' if agrees else 'NO'} |")
    n_rows = len(lines) - 4
    if not n_rows:
        verdict = "no loss has finished runs for every seed in both precisions yet"
    elif agree_all:
        verdict = "bf16 agrees with float32 within the seed-to-seed spread on every metric"
    else:
        verdict = "bf16 departs from float32 by more than the seed-to-seed spread on at least one metric (NO above)"
    lines += ["", verdict, ""]
    return "\n".join(lines), agree_all and n_rows > 0


def last_logged(folder, column):
    """`column` of the last train_steps.csv row (None if missing)."""
    try:
        rows = read_train_steps(folder)
    except DisvaeError:
        return None
    return rows[-1].get(column) if rows else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--losses", nargs="+", default=["betaH", "btcvae"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--metrics-samples", type=int, default=3000)
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="threads per run (default: cores / jobs)")
    parser.add_argument("--results", default=results.RESULTS_DIR, help="folder of the runs ($DISVAE_RESULTS, "
                        "else results/)")
    parser.add_argument("--out", default=None, help="the table, without .md (default: <results>/precision_study)")
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table from finished runs")
    args = parser.parse_args()
    if args.jobs < 1 or args.steps < 1 or len(args.seeds) < 2:
        parser.error("needs -j >= 1, --steps >= 1 and at least two seeds (the spread is over seeds)")
    args.out = args.out or os.path.join(args.results, "precision_study")
    code = 0 if args.table_only else train_all(args)
    table, _ = compare(args)
    atomic_write_text(args.out + ".md", table)
    print(table)
    return code


if __name__ == "__main__":
    sys.exit(main())
