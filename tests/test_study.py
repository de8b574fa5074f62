"""Studies (bin/study.py, disvae/study.py): the grid and its presets, one-line refusals
before any run, the local runner end to end with a real kill and a resume, failed runs
kept apart, the SLURM job array (rendered for a stand-in sbatch), the table's summaries."""
import csv
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

from disvae.config import run_parameters
from disvae.study import PRESETS, RunJobs, configs_of, expand, parse_grid, read_table, validate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bin"))
STUDY = [sys.executable, os.path.join(ROOT, "bin", "study.py")]
TINY = ["--grid", "latent_dim=4", "--grid", "batch_size=16", "--no-test", "--metrics-samples", "200",
        "--no-plots"]


def test_unsupervised_study_v1_is_disentanglement_libs_grid():
    runs = expand(PRESETS["unsupervised_study_v1"], ["dsprites"], [0, 1])
    assert len(runs) == 2 * 36 and len({r.name for r in runs}) == 72
    validate(runs, {"max_steps": 10})
    values = {}
    for run in runs[:36]:
        params = run_parameters(run.typed({}))
        weight = {"betaH": "betaH_B", "betaB": "betaB_finC", "factor": "factor_G", "btcvae": "btcvae_B",
                  "dipvaeI": "dipvaeI_lambda_od", "dipvaeII": "dipvaeII_lambda_od"}[run.loss]
        values.setdefault(run.loss, []).append(getattr(params, weight))
        if run.loss == "betaB":
            assert params.betaB_G == 1000
        if run.loss.startswith("dipvae"):  # lambda_d = 10 lambda_od (I) and lambda_od (II)
            lambda_d = params.dipvaeI_lambda_od * params.dipvaeI_lambda_d_factor if run.loss == "dipvaeI" else \
                params.dipvaeII_lambda_od * params.dipvaeII_lambda_d_factor
            assert lambda_d == getattr(params, weight) * (10 if run.loss == "dipvaeI" else 1)
    assert values == {"betaH": [1, 2, 4, 6, 8, 16], "betaB": [5, 10, 25, 50, 75, 100],
                      "factor": [10, 20, 30, 40, 50, 100], "dipvaeI": [1, 2, 5, 10, 20, 50],
                      "dipvaeII": [1, 2, 5, 10, 20, 50], "btcvae": [1, 2, 4, 6, 8, 10]}


def test_a_command_line_grid_goes_to_its_losses_and_names_each_run():
    assert parse_grid(["--betaH-B=1,4", "-z=4"]) == {"betaH_B": [1.0, 4.0], "latent_dim": [4]}  # flags too
    grid = parse_grid(["btcvae_B=1,4", "lr=1e-3,5e-4", "betaH_B=2"])
    runs = expand(configs_of(["VAE"], grid), ["dsprites", "xysquares"], [7])
    assert len(runs) == 2 * (2 + 2 * 2 + 2)  # VAE x lr, btcvae x B x lr, betaH x lr; per dataset
    names = {r.name for r in runs}
    assert "btcvae_dsprites_btcvae_B-4_lr-0.0005_seed7" in names and "betaH_xysquares_lr-0.001_seed7" in names
    run = next(r for r in runs if r.name == "btcvae_dsprites_btcvae_B-4_lr-0.0005_seed7")
    params = run_parameters(run.typed({"max_steps": 5}))
    assert (params.btcvae_B, params.lr, params.seed, params.max_steps, params.experiment) == \
        (4.0, 5e-4, 7, 5, "btcvae_dsprites")


@pytest.mark.parametrize("args,message", [
    (["--losses", "nope"], "unknown loss 'nope'"),
    (["--grid", "nope=1,2", "--losses", "VAE"], "nope is not an option"),
    (["--losses", "VAE", "--datasets", "nope"], "unknown dataset 'nope'"),
    (["--grid", "betaH_B=1,-2"], "betaH_B = '-2' is not valid"),
    (["--grid", "lr=0"], "lr = '0' is not valid"),
])
def test_a_bad_grid_is_one_line_before_any_run(tmp_path, args, message):
    out = subprocess.run(STUDY + ["bad", *args], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, DISVAE_RESULTS=str(tmp_path)))
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "bad").exists()


def test_scaled_schedules_are_an_explicit_choice():
    from study import scaled
    run = expand([("betaB", {})], ["dsprites"], [1])[0]
    assert run_parameters(run.typed({"max_steps": 20000})).reg_anneal == 100000  # canonical by default
    shrunk = scaled(run, {"max_steps": 20000})  # 30 epochs of dSprites at batch 64 are 345,600 steps
    assert run_parameters(shrunk.typed({"max_steps": 20000})).reg_anneal == round(100000 * 20000 / 345600)


def launch(name, results, *args, **kwargs):
    return subprocess.Popen(STUDY + [name, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, DISVAE_RESULTS=str(results)), **kwargs)


def test_a_killed_study_resumes_where_it_stopped(tmp_path):
    """A real SIGKILL of the whole study (runner, worker, main.py) mid-run; the second launch
    resumes the run from its checkpoint (no restart: nothing archived), finishes it, and
    skips it on a third launch."""
    args = ["--grid", "betaH_B=2", "--grid", "checkpoint_steps=10", "--steps", "300", *TINY]
    first = launch("k", tmp_path, *args, start_new_session=True)
    run = tmp_path / "k" / "runs" / "betaH_dsprites_seed1234"
    deadline = time.time() + 240
    while not (run / "checkpoint.json").exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.2)
    assert (run / "checkpoint.json").exists(), first.communicate()
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert read_table(tmp_path / "k" / "study.csv")[0].get("state") != "done"
    second = launch("k", tmp_path, *args)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, out + err
    assert "1 runs: 1 done" in out
    specs = (run / "specs.json").read_text()
    assert '"status": "done"' in specs and '"global_step": 300' in specs
    assert [p.name for p in (tmp_path / "k" / "runs").iterdir() if p.is_dir()] == [run.name]  # resumed, kept
    with open(run / "train_steps.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(100, 301, 100))
    row = read_table(tmp_path / "k" / "study.csv")[0]
    assert row["state"] == "done" and row["steps"] == 300 and "mig_histogram" in row and "train_loss" in row
    third = launch("k", tmp_path, *args)
    out, _ = third.communicate(timeout=300)
    assert third.returncode == 0 and "0 job(s)" in out


def test_a_failed_run_stops_no_other_and_is_retried_only_on_request(tmp_path):
    args = ["--losses", "betaH", "--datasets", "mnist", "xysquares", "--steps", "2", *TINY]
    out = subprocess.run(STUDY + ["f", *args], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, DISVAE_RESULTS=str(tmp_path)))
    assert out.returncode == 1
    assert "2 runs: 1 done, 1 failed" in out.stdout
    failed = [line for line in out.stdout.splitlines() if line.startswith("  failed betaH_mnist_seed1234:")]
    assert len(failed) == 1 and "data/mnist" in failed[0]  # where to put the files, in one line
    rows = {r["run"]: r for r in read_table(tmp_path / "f" / "study.csv")}
    assert rows["betaH_mnist_seed1234"]["state"] == "failed" and rows["betaH_xysquares_seed1234"]["state"] == "done"
    again = subprocess.run(STUDY + ["f", *args], capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, DISVAE_RESULTS=str(tmp_path)))
    assert "0 job(s)" in again.stdout and "1 failed" in again.stdout  # neither retried nor rerun
    retry = subprocess.run(STUDY + ["f", *args, "--retry-failed"], capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, DISVAE_RESULTS=str(tmp_path)))
    assert "1 job(s)" in retry.stdout and "1 failed" in retry.stdout


def test_a_run_another_launch_finished_meanwhile_is_done_not_failed(tmp_path, monkeypatch):
    """Two launches of one study: the second saw a run unfinished (its metrics still running)
    and its --resume then finds it finished. That run is done, not failed."""
    import json
    runs = expand(configs_of(["betaH"], {}), ["dsprites"], [1])
    folder = tmp_path / "runs" / runs[0].name
    folder.mkdir(parents=True)
    (folder / "checkpoint.json").write_text("{}")
    (folder / "specs.json").write_text(json.dumps({"status": "running", "args": {}}))  # in its metrics
    jobs = RunJobs(str(tmp_path), {"max_steps": 2}, plots=False)

    def finished_meanwhile(command):
        specs = {"status": "done", "args": {}}  # what the other job's main.py wrote meanwhile
        (folder / "specs.json").write_text(json.dumps(specs))
        return "error: the run is finished (step 2)"
    monkeypatch.setattr(jobs, "_execute", finished_meanwhile)
    monkeypatch.setattr("disvae.study.read_specs", lambda f: json.loads(open(os.path.join(f, "specs.json")).read()))
    assert jobs.run_one(runs[0]) == "done"
    assert not (tmp_path / "failed").exists()


def test_another_grid_in_the_same_study_folder_is_refused(tmp_path):
    env = dict(os.environ, DISVAE_RESULTS=str(tmp_path))
    first = subprocess.run(STUDY + ["s", "--losses", "VAE", "--status"], capture_output=True, text=True, env=env)
    assert first.returncode == 0 and "1 runs: 1 missing" in first.stdout
    other = subprocess.run(STUDY + ["s", "--losses", "betaH", "--status"], capture_output=True, text=True, env=env)
    assert other.returncode == 2 and "holds another study" in other.stderr
    logged = subprocess.run(STUDY + ["s", "--losses", "VAE", "--tensorboard", "--status"], capture_output=True,
                            text=True, env=env)
    assert logged.returncode == 0, logged.stderr  # logging only: the same study
    untested = subprocess.run(STUDY + ["s", "--losses", "VAE", "--no-test", "--status"], capture_output=True,
                              text=True, env=env)
    assert untested.returncode == 2 and "holds another study" in untested.stderr  # other results


def test_slurm_backend_submits_one_job_array(tmp_path):
    """With stand-ins for srun and sbatch (no cluster): one array, one run per task, capped
    by --array-parallelism, with the partition, time, CPUs and GPUs asked for."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/submitted.sh\necho "Submitted batch job 4242"\n')
    for tool in ("srun", "sbatch"):
        (fake / tool).chmod(0o755)
    env = dict(os.environ, DISVAE_RESULTS=str(tmp_path / "results"), PATH=f"{fake}:{os.environ['PATH']}")
    out = subprocess.run(STUDY + ["c", "--grid", "btcvae_B=1,4,6", "--seeds", "2", "--steps", "100", "--backend",
                                  "slurm", "--partition", "gpu", "--time", "90", "--gpus-per-job", "1",
                                  "--cpus-per-job", "8", "--array-parallelism", "3"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --array=0-5%3", "#SBATCH --partition=gpu", "#SBATCH --time=90", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --signal=USR2@"):
        assert line in script, script
    assert "launch the same command again" in out.stdout


def test_a_preempted_job_stops_its_run_cleanly_and_queues_itself_again(tmp_path):
    """submitit's checkpoint hook: the running main.py gets SIGTERM (it saves a checkpoint)
    and the same runs are submitted again."""
    child = subprocess.Popen([sys.executable, "-c", "import signal, sys, time\n"
                              "signal.signal(signal.SIGTERM, lambda *a: sys.exit(130))\ntime.sleep(60)"])
    time.sleep(0.5)
    job = RunJobs(str(tmp_path), {"max_steps": 5})
    job.child = child
    again = job.checkpoint(["run list"])
    assert child.wait(timeout=10) == 130
    assert isinstance(again.function, RunJobs) and again.args == (["run list"],)


def test_the_table_summaries(tmp_path):
    from summarize import spearman, summarize_table
    rows = [{"run": f"betaH_dsprites_betaH_B-{b}_seed{s}", "loss": "betaH", "dataset": "dsprites", "seed": s,
             "state": "done", "steps": 10, "betaH_B": b, "mig_histogram": m, "sap": p, "dci_disentanglement": d}
            for b, s, m, p, d in ((1, 1, 0.1, 0.3, 0.9), (1, 2, 0.2, 0.1, 0.8), (4, 1, 0.3, 0.2, 0.7),
                                  (4, 2, 0.4, 0.4, 0.6))]
    with open(tmp_path / "study.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = summarize_table(str(tmp_path / "study.csv"), str(tmp_path / "summary"))
    assert "| betaH_dsprites_betaH_B-1 | 2 | 10 | - | 0.15 [0.10, 0.20] |" in text
    from summarize import from_table
    metrics, matrix = spearman([from_table(r) for r in read_table(tmp_path / "study.csv")])
    # ranks of MIG 1 2 3 4 against DCI 4 3 2 1: -1; against SAP 3 1 2 4: rho = 1 - 6 * 6 / 60 = 0.4
    assert matrix[metrics.index("mig_histogram")][metrics.index("dci_disentanglement")] == pytest.approx(-1)
    assert matrix[metrics.index("mig_histogram")][metrics.index("sap")] == pytest.approx(0.4)
    constant = [dict(from_table(r), metrics=dict(from_table(r)["metrics"], sap=0.0))
                for r in read_table(tmp_path / "study.csv")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy warns on constant input: it must not be asked
        metrics, matrix = spearman(constant)
    assert matrix[metrics.index("mig_histogram")][metrics.index("sap")] is None
    for suffix in (".png", "_seeds.png", "_values.png", "_spearman.png"):
        assert (tmp_path / f"summary{suffix}").stat().st_size > 1000


def test_local_workers_share_out_cores_and_gpus(tmp_path, monkeypatch):
    """bin/run_commands.py's and bin/study.py's runner: worker k takes items k, k + N, ...,
    its share of the cores and GPU k mod (the GPUs CUDA_VISIBLE_DEVICES lists)."""
    from disvae.runtime import available_cores
    from disvae.study import CommandJobs, submit_local
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    show = tmp_path / "show.sh"
    show.write_text(f'echo "$1 $CUDA_VISIBLE_DEVICES $OMP_NUM_THREADS" >> {tmp_path}/seen\n')
    commands = [["bash", str(show), name] for name in "ABC"]
    jobs = submit_local(CommandJobs, commands, 2, str(tmp_path / "logs"), minutes=5)
    assert [job.result() for job in jobs] == [[], []]  # no command failed
    seen = sorted(line.split() for line in (tmp_path / "seen").read_text().splitlines())
    threads = str(max(1, available_cores() // 2))
    assert seen == [["A", "3", threads], ["B", "5", threads], ["C", "3", threads]]


def test_a_studys_metric_families_reach_each_runs_command(tmp_path):
    """--metrics mig research: each run's main.py command computes exactly those families."""
    import main
    import study as cli
    from disvae.study import main_command
    args = cli.parse_args(["m", "--losses", "betaH", "--steps", "5", "--metrics", "mig", "research", "mig"])
    _, runs, budget, _ = cli.build(args)
    command = main_command(runs[0], budget, str(tmp_path))
    start = command.index("--metrics")
    assert command[start:start + 3] == ["--metrics", "mig", "research"]
    params = main.parse_arguments(command[2:])
    assert params.metrics == ["mig", "research"] and params.max_steps == 5 and params.is_metrics
