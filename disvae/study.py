"""Studies: losses x hyperparameter values x seeds x datasets, each run trained, scored
and plotted by main.py and main_viz.py, every state resumable, one table (study.csv).

A study lives in results/<study>/:
- study.json: its grid and budget (a second launch must ask for the same study);
- runs/<run>/: each run's results folder (main.py with DISVAE_RESULTS pointing there);
- failed/<run>.txt: the one-line error of a run that failed (retried only on request);
- study.csv: one row per run (its grid values, seed, dataset, steps, minutes, final train
  losses, test losses, every scalar metric), rewritten atomically as runs finish;
- logs/: the scheduler's (submitit's) logs of every job.

A run is in one of four states, read from its folder: missing (train it), unfinished
(a checkpoint and no "done" in specs.json: `--resume` continues it), done (skipped),
failed (skipped unless retried). So a second launch of the same study does only what is
missing, whatever stopped the first (Ctrl-C, a kill, a preemption, a time limit).
"""
import csv
import io
import itertools
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from disvae.config import all_options, experiment_names, read_config, run_parameters
from disvae.datasets import DATASETS
from disvae.errors import DisvaeError
from disvae.io import atomic_write_json, atomic_write_text
from disvae.losses import LOSSES
from disvae.options import check_value
from disvae.results import (POINTER_FILENAME, SPECS_FILENAME, read_json, read_metrics, read_specs,
                            read_train_losses, read_train_steps, scalar_metrics)
from disvae.runtime import available_cores

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIP_LAMBDAS = (1, 2, 5, 10, 20, 50)
# disentanglement_lib's unsupervised_study_v1 (Locatello et al. 2019), per loss: its values;
# DIP-VAE-I's lambda_d = 10 lambda_od and DIP-VAE-II's lambda_d = lambda_od are the losses'
# own lambda_d factors (10 and 1)
PRESETS = {
    "unsupervised_study_v1": [
        ("betaH", {"betaH_B": [1, 2, 4, 6, 8, 16]}),
        ("betaB", {"betaB_finC": [5, 10, 25, 50, 75, 100], "betaB_G": [1000]}),
        ("factor", {"factor_G": [10, 20, 30, 40, 50, 100]}),
        ("dipvaeI", {"dipvaeI_lambda_od": list(DIP_LAMBDAS), "dipvaeI_lambda_d_factor": [10]}),
        ("dipvaeII", {"dipvaeII_lambda_od": list(DIP_LAMBDAS), "dipvaeII_lambda_d_factor": [1]}),
        ("btcvae", {"btcvae_B": [1, 2, 4, 6, 8, 10]}),
    ],
    # the toolkit's own reproduction: each loss with its experiment's values on dSprites,
    # Ada-TVAE on the research's synthetic datasets
    "reproduce": [(loss, {}, ["dsprites"]) for loss in ("VAE", "betaH", "betaB", "factor", "btcvae", "dipvaeI",
                                                         "dipvaeII")] + [("adatvae", {}, ["xyobject", "xysquares"])],
}
STUDY_FILE, TABLE_FILE = "study.json", "study.csv"
RUN_COLUMNS = ["run", "loss", "dataset", "seed", "state", "steps", "minutes"]


@dataclass(frozen=True)
class Run:
    """One run of a study: main.py's typed flags for it, and its name."""
    loss: str
    dataset: str
    seed: int
    values: tuple = ()  # ((option name, value), ...): this run's point of the grid
    name: str = field(default="", compare=False)

    def typed(self, budget):
        """main.py's parameters as typed: its experiment (hyperparam.ini's <loss>_<dataset>,
        else custom with -l and -d), the grid's values, the seed and the budget."""
        typed = {"experiment": f"{self.loss}_{self.dataset}", "seed": self.seed, **dict(self.values), **budget}
        if typed["experiment"] not in experiment_names(read_config(), *_registries()):
            typed.update(experiment="custom", loss=self.loss, dataset=self.dataset)
        return typed


def _registries():
    return LOSSES, DATASETS


def value_tag(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def run_name(loss, dataset, values, seed):
    """<loss>_<dataset>[_<option>-<value>...]_seed<seed>: deterministic, one per grid point."""
    tags = "".join(f"_{name}-{value_tag(value)}" for name, value in values)
    return f"{loss}_{dataset}{tags}_seed{seed}"


def parse_grid(items):
    """['betaH_B=1,4,6', 'lr=1e-3,5e-4'] -> {option: [values]} (values checked by the
    option's own parser); an unknown option or refused value is a DisvaeError."""
    options = all_options()
    by_flag = {flag: name for name, option in options.items() for flag in option.cli_flags}
    grid = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = by_flag.get(name.strip(), name.strip())  # an option's name, or one of its flags
        if not sep or not values:
            raise DisvaeError(f"--grid {item!r}: expected OPTION=V1,V2,... (e.g. betaH_B=1,4,6)")
        if name not in options or not options[name].in_ini or options[name].kind != "value":
            raise DisvaeError(f"--grid {item!r}: {name} is not an option a grid can vary (see python main.py -h)")
        try:
            grid[name] = [check_value(options[name], v.strip(), "--grid") for v in values.split(",")]
        except ValueError as err:
            raise DisvaeError(str(err)) from None
    return grid


def owner_of(option_name):
    """The loss that declares `option_name`, or None for a general option."""
    losses, _ = _registries()
    return next((loss for loss, cls in losses.items()
                 if any(o.name == option_name for o in cls.options.values())), None)


def expand(configs, datasets, seeds):
    """[(loss, {option: [values]}[, its datasets])] x datasets x seeds -> [Run], named, in
    launch order (seed-major: every configuration's first seed before any second seed)."""
    runs = []
    for seed in seeds:
        for dataset in datasets:
            for loss, grid, *own in configs:
                if own and dataset not in own[0]:
                    continue
                names = sorted(grid)
                for point in itertools.product(*(grid[n] for n in names)):
                    values = tuple(zip(names, point))
                    varying = tuple((n, v) for n, v in values if len(grid[n]) > 1)
                    runs.append(Run(loss, dataset, seed, values, run_name(loss, dataset, varying, seed)))
    return runs


def datasets_of(configs, datasets):
    """The datasets the study trains on: --datasets, and those the configurations name."""
    return list(dict.fromkeys(list(datasets) + [d for config in configs if len(config) > 2 for d in config[2]]))


def configs_of(losses, grid):
    """Grid options of a loss go to that loss (it joins the study); general options to every loss."""
    configs = {loss: {} for loss in losses}
    for option, values in grid.items():
        owner = owner_of(option)
        if owner is not None:
            configs.setdefault(owner, {})[option] = values
    general = {option: values for option, values in grid.items() if owner_of(option) is None}
    if not configs:
        raise DisvaeError("the study has no loss: name them with --losses, or vary a loss's option with --grid")
    return [(loss, {**own, **general}) for loss, own in configs.items()]


def validate(runs, budget):
    """Every run's parameters as main.py would build them: an unknown loss, dataset or
    option, or a refused value, is one DisvaeError before any run starts."""
    losses, datasets = _registries()
    for run in runs:
        if run.loss not in losses:
            raise DisvaeError(f"unknown loss {run.loss!r}; choose from {', '.join(losses)}")
        if run.dataset not in datasets:
            raise DisvaeError(f"unknown dataset {run.dataset!r}; choose from {', '.join(datasets)}")
        for option, _ in run.values:
            owner = owner_of(option)
            if owner not in (None, run.loss):
                raise DisvaeError(f"{option} is an option of {owner}, not of {run.loss}")
        try:
            run_parameters(run.typed(budget))
        except (DisvaeError, ValueError) as err:
            raise DisvaeError(f"{run.name}: {err}") from None
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise DisvaeError("two runs of the study would share a name; vary each option once")


# ----------------------------------------------------------------- states


def state_of(study_dir, name):
    """missing, unfinished, done or failed."""
    if os.path.exists(os.path.join(study_dir, "failed", name + ".txt")):
        return "failed"
    folder = os.path.join(study_dir, "runs", name)
    if not os.path.exists(folder):
        return "missing"
    try:
        if read_specs(folder).get("status") == "done":
            return "done"
    except DisvaeError:
        pass
    return "unfinished"


def failure_of(study_dir, name):
    with open(os.path.join(study_dir, "failed", name + ".txt")) as f:
        return f.read().strip()


def main_command(run, budget, study_dir):
    """The main.py command that takes the run from its state to done."""
    folder = os.path.join(study_dir, "runs", run.name)
    evaluation = ["--is-metrics", "--no-progress-bar"]
    main = [sys.executable, os.path.join(ROOT, "main.py"), run.name]
    if os.path.exists(os.path.join(folder, POINTER_FILENAME)):  # the budget and evaluation flags apply
        return main + ["--resume", *flags_of(budget), *evaluation]  # (a new --max-minutes for the rest)
    # a folder without a checkpoint (stopped before its first one) starts again, kept aside
    archive = ["--archive"] if os.path.exists(folder) else []
    return main + flags_of(run.typed(budget)) + evaluation + archive


def flags_of(typed):
    """main.py's command-line words of typed parameters."""
    options = all_options()
    words = []
    for name, value in typed.items():
        if options[name].kind == "flag":
            words += [options[name].flag] if value else []
        elif isinstance(value, (list, tuple)):  # nargs="+" (--metrics mig research)
            words += [options[name].flag, *map(value_tag, value)]
        else:
            words.append(f"{options[name].flag}={value_tag(value)}")
    return words


class RunJobs:
    """The job a scheduler runs: the given runs one after another, each to done (or
    failed), then study.csv rewritten. On SLURM's pre-timeout or preemption signal,
    submitit calls `checkpoint`: the running main.py is asked to stop (it saves a
    checkpoint) and the same job is queued again, which resumes it."""

    def __init__(self, study_dir, budget, plots=True, threads=None):
        self.study_dir, self.budget, self.plots, self.threads = study_dir, budget, plots, threads
        self.child = None

    def env(self):
        env = dict(os.environ, DISVAE_RESULTS=os.path.join(self.study_dir, "runs"))
        if self.threads:
            env["OMP_NUM_THREADS"] = str(self.threads)
        return env

    def __call__(self, runs):
        outcomes = {}
        for run in runs:
            outcomes[run.name] = self.run_one(run)
            write_table(self.study_dir)
        return outcomes

    def run_one(self, run):
        state = state_of(self.study_dir, run.name)
        if state in ("done", "failed"):
            return state
        error = self._execute(main_command(run, self.budget, self.study_dir))
        if error is not None and "is in use by" in error:  # still running in an earlier launch's job
            return "busy"
        if error is not None and state_of(self.study_dir, run.name) == "done":  # that job finished it meanwhile
            return "done"
        if error is None and self.plots:
            error = self._execute([sys.executable, os.path.join(ROOT, "main_viz.py"), run.name, "all", "-s", "1"])
        if error is not None:
            os.makedirs(os.path.join(self.study_dir, "failed"), exist_ok=True)
            with open(os.path.join(self.study_dir, "failed", run.name + ".txt"), "w") as f:
                f.write(error + "\n")
            return "failed"
        return "done"

    def _execute(self, command):
        """None when the command succeeds, else its one-line error (its last stderr line)."""
        self.child = subprocess.Popen(command, env=self.env(), stderr=subprocess.PIPE, text=True, cwd=ROOT)
        _, stderr = self.child.communicate()
        code, self.child = self.child.returncode, None
        if code in (130, -signal.SIGTERM, -signal.SIGINT, -signal.SIGKILL):
            raise InterruptedError(f"stopped by a signal (exit {code}); launch the study again to resume")
        if code == 0:
            return None
        lines = [line for line in stderr.splitlines() if line.strip()]
        return (lines[-1] if lines else f"exit status {code}")[:500]

    def checkpoint(self, runs):
        import submitit
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)  # main.py saves a checkpoint and exits
            try:
                self.child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.child.kill()
        return submitit.helpers.DelayedSubmission(RunJobs(self.study_dir, self.budget, self.plots, self.threads),
                                                  runs)


class CommandJobs:
    """The job of bin/ scripts' command lists: each command in turn (words, no shell); a
    failing one is reported and the next runs. Returns the failed commands."""

    def __init__(self, threads=None):
        self.threads = threads

    def __call__(self, commands):
        env = dict(os.environ, **({"OMP_NUM_THREADS": str(self.threads)} if self.threads else {}))
        failed = []
        for words in commands:
            print("+ " + " ".join(words), flush=True)
            if subprocess.run(words, env=env, cwd=ROOT).returncode != 0:
                print("FAILED: " + " ".join(words), file=sys.stderr, flush=True)
                failed.append(" ".join(words))
        return failed


def visible_gpus():
    """The GPUs jobs may use: those CUDA_VISIBLE_DEVICES lists, else every one torch sees."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [int(g) for g in listed.split(",") if g.strip().isdigit()]
    import torch
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def submit_local(make_job, items, workers, folder, minutes=24 * 60, backend="local"):
    """Share `items` out to `workers` jobs on this machine (submitit's LocalExecutor; its
    DebugExecutor, in this process, with backend "debug"): worker k takes items k, k +
    workers, ... in turn, gets its share of the cores (OMP_NUM_THREADS) and GPU k mod
    (the visible GPUs). `make_job(threads)` builds a worker's callable. Returns the jobs."""
    import submitit
    workers = max(1, min(workers, len(items)))
    threads = max(1, available_cores() // workers)
    gpus = visible_gpus()
    if backend == "debug":
        executor = submitit.DebugExecutor(folder=folder)
    else:
        executor = submitit.LocalExecutor(folder=folder)
    jobs = []
    for worker in range(workers):
        if backend != "debug":
            gpu = {"visible_gpus": [gpus[worker % len(gpus)]], "gpus_per_node": 1} if gpus else {}
            executor.update_parameters(timeout_min=minutes, signal_delay_s=120, **gpu)
        jobs.append(executor.submit(make_job(threads), items[worker::workers]))
    return jobs


# ----------------------------------------------------------------- the table


def run_row(folder, grid_options):
    """study.csv's row of one run folder (None when it is not a run yet)."""
    if not os.path.exists(os.path.join(folder, SPECS_FILENAME)):
        return None
    specs = read_specs(folder)
    args = specs["args"]
    row = {"run": os.path.basename(folder), "loss": args["loss"], "dataset": args["dataset"],
           "seed": args["seed"], "state": specs.get("status"), "steps": specs.get("global_step")}
    row.update({option: args.get(option) for option in grid_options})
    steps = read_train_steps(folder)
    row["minutes"] = round(steps[-1]["wall_time_s"] / 60, 2) if steps else None
    last = {}
    for epoch, name, value in read_train_losses(folder):
        last[name] = value
    row.update({f"train_{name}": value for name, value in last.items()})
    test_path = os.path.join(folder, "test_losses.log")
    if os.path.exists(test_path):
        row.update({f"test_{name}": value for name, value in read_json(test_path, "test_losses.log").items()
                    if isinstance(value, (int, float))})
    row.update(scalar_metrics(read_metrics(folder)))
    return row


def write_table(study_dir):
    """study.csv from every run folder (and failed run) of the study, written atomically."""
    study = read_json(os.path.join(study_dir, STUDY_FILE), STUDY_FILE)
    grid_options = study["options"]
    rows = []
    for name in study["runs"]:
        try:
            row = run_row(os.path.join(study_dir, "runs", name), grid_options)
        except DisvaeError:
            row = None
        state = state_of(study_dir, name)
        if row is None:
            row = {"run": name, **study["runs"][name]}
        if state == "failed":
            row.update(state="failed", error=failure_of(study_dir, name))
        rows.append(row)
    columns = RUN_COLUMNS + grid_options + ["error"]
    columns += sorted({k for row in rows for k in row if k not in columns})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(os.path.join(study_dir, TABLE_FILE), buffer.getvalue())
    return rows


def read_table(path):
    """study.csv -> rows of {column: value}, numbers as floats (empty cells left out)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise DisvaeError(f"cannot read {path}: {err.strerror}") from None
    return [{k: _number(v) for k, v in row.items() if v not in ("", None)} for row in rows]


def _number(text):
    try:
        return float(text)
    except ValueError:
        return text


LOGGING_ONLY = ("tensorboard",)  # budget flags that change no result: not part of a study's identity


def describe(runs, budget, options):
    """study.json's content: the runs by name (loss, dataset, seed, values) and the budget
    (what a second launch must match: not its logging-only flags)."""
    budget = {key: value for key, value in budget.items() if key not in LOGGING_ONLY}
    return {"budget": budget, "options": options,
            "runs": {run.name: {"loss": run.loss, "dataset": run.dataset, "seed": run.seed, **dict(run.values)}
                     for run in runs}}


def save_description(study_dir, description):
    """study.json; a study folder holding another study is a DisvaeError."""
    path = os.path.join(study_dir, STUDY_FILE)
    if os.path.exists(path):
        before = read_json(path, STUDY_FILE)
        if json.loads(json.dumps(description)) != before:
            raise DisvaeError(f"{study_dir} holds another study (other runs or budget): give the study another "
                              "name, or launch it with the grid it was started with")
        return
    atomic_write_json(path, description)
