"""bin/reproduce.sh end to end with a tiny budget, in a copy of the toolkit (its
results/ stays untouched), and the budget plan it prints."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bin"))


def test_plan_scales_schedules_to_the_budget():
    from plan_budget import STEPS_PER_MINUTE, plan
    words, name, message = plan("betaB_dsprites", 10, 0)
    steps = 10 * STEPS_PER_MINUTE["betaB"]
    full = 30 * 737280 // 64  # 30 epochs of dSprites at batch 64
    anneal = int(words[words.index("--reg-anneal") + 1])
    assert name == "betaB_dsprites" and anneal == round(100000 * steps / full)  # same fraction of the run
    assert "capacity annealed over" in message and words[words.index("--max-minutes") + 1] == "10"
    words, name, _ = plan("adatvae_xyobject", 2, 1)
    assert name == "adatvae_xyobject_seed1235" and words[words.index("--seed") + 1] == "1235"
    assert int(words[words.index("--max-steps") + 1]) == 2 * STEPS_PER_MINUTE["adatvae"]


def test_plan_with_fixed_steps_trains_every_seed_as_long():
    from plan_budget import plan
    for offset in (0, 2):
        words, name, message = plan("btcvae_dsprites", 10, offset, steps=20000)
        assert "--max-minutes" not in words and words[words.index("--max-steps") + 1] == "20000"
        assert int(words[words.index("--reg-anneal") + 1]) == round(10000 * 20000 / (30 * 737280 // 64))
    assert name == "btcvae_dsprites_seed1236" and message.startswith("btcvae_dsprites_seed1236: 20000 steps")


def test_reproduce_runs_end_to_end(tmp_path):
    for item in ("main.py", "main_viz.py", "hyperparam.ini", "disvae", "utils", "bin"):
        source = os.path.join(ROOT, item)
        if os.path.isdir(source):
            shutil.copytree(source, tmp_path / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / item)
    (tmp_path / "results" / "betaH_dsprites").mkdir(parents=True)  # a shipped model: untouched, not summarised
    (tmp_path / "results" / "betaH_dsprites" / "PRETRAINED.md").write_text("shipped")
    out = subprocess.run(["bash", "bin/reproduce.sh", "-j", "2", "--minutes", "0.02", "--seeds", "2",
                          "--experiments", "betaH_dsprites", "--metrics-samples", "300"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    results = tmp_path / "results"
    runs = ["repro_betaH_dsprites", "repro_betaH_dsprites_seed1235"]
    for run in runs:
        files = set(os.listdir(results / run))
        assert {"model.pt", "metrics.log", "train_steps.csv", "posterior_traversals.gif", "loss_curves.png"} <= files
    table = (results / "repro_summary.md").read_text()
    assert all(f"| {run} |" in table for run in runs) and "| betaH_dsprites |" not in table
    assert (results / "repro_summary_seeds.png").stat().st_size > 1000
    assert os.listdir(results / "betaH_dsprites") == ["PRETRAINED.md"]
    assert "capacity" not in out.stderr and "regularisation annealed" in out.stderr  # the scaling is printed
    again = subprocess.run(["bash", "bin/reproduce.sh", "--minutes", "0.02", "--experiments", "betaH_dsprites",
                            "--metrics-samples", "300"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "skip repro_betaH_dsprites" in again.stderr  # existing results are kept


def test_seed_table_gives_median_range_and_best_seed():
    from summarize import group_markdown
    rows = [{"group": "repro_x", "experiment": f"repro_x{suffix}", "seed": seed, "steps": 100, "minutes": minutes,
             "metrics": {"mig_histogram": mig, "sap": 0.5}}
            for suffix, seed, minutes, mig in (("", 1, 10.0, 0.1), ("_seed2", 2, 14.0, 0.3), ("_seed3", 3, 12.0, 0.2))]
    running = {"group": "repro_x", "experiment": "repro_x_seed4", "seed": 4, "steps": 50, "minutes": 1.0,
               "status": "running", "metrics": {"mig_histogram": 0.9}}
    table = group_markdown(rows + [running])
    # the median of 0.1, 0.2, 0.3 is 0.2 and of the minutes 12; the unfinished seed is left out of both
    assert "| repro_x | 3 (+1 unfinished) | 100 | 12 | 0.20 [0.10, 0.30] |" in table
    assert "| 0.50 [0.50, 0.50] |" in table and "repro_x_seed2 (seed 2)" in table


def test_pretrained_card_says_whether_metrics_would_be_recomputed(tiny_run):
    import json
    from pretrained_card import card
    from disvae.evaluate import metrics_provenance
    from disvae.metrics import FAMILIES
    from disvae.modelio import load_model
    folder = tiny_run("tiny")
    model, _ = load_model(str(folder))
    provenance = metrics_provenance(model, seed=7, dataset_version=2)  # computed on the current dSprites
    families = {name: dict(provenance, version=family.version, keys=["mig"]) for name, family in FAMILIES.items()}
    (folder / "metrics.log").write_text(json.dumps({"mig": 0.25, "seed": 7, "families": families}))
    text = open(card("tiny", "2 steps")).read()
    assert "| MIG | 0.250 |" in text and "# recomputes nothing" in text
    assert "- Data: dsprites, rendering version 2 (the current one)." in text
    # the command rebuilds the run: its budget and what differs from the defaults, not its logging
    # (TINY_RUN less its logging, checkpoint and evaluation flags)
    assert "\npython main.py tiny --batch-size 16 --dataset dsprites --epochs 1 --latent-dim 4 --loss betaH " \
        "--max-steps 2\n" in text
    del families["mig"]["seeding"]  # recorded by a disvae that seeded the families by position
    families["sap"]["version"] = 0
    (folder / "metrics.log").write_text(json.dumps({"mig": 0.25, "seed": 7, "families": families}))
    assert "# recomputes mig, sap: metrics.log records them" in open(card("tiny", "2 steps")).read()


def test_bin_jobs_share_out_the_visible_gpus(tmp_path):
    """bin/common.sh -j 2 with two GPUs: a job runs on the GPU of its slot, so a job that
    starts while another still runs gets the other GPU (not the next one in turn)."""
    show = tmp_path / "show.sh"
    show.write_text('echo "$1 $CUDA_VISIBLE_DEVICES"; sleep "$2"\n')
    commands = "\n".join(f"bash {show} {job} {pause}" for job, pause in
                         (("A", 3), ("B", 0.1), ("C", 0.1), ("D", 0.1))) + "\n"
    script = f'set -- -j 2; . {ROOT}/bin/common.sh; run_all'
    out = subprocess.run(["bash", "-c", script], input=commands, capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, CUDA_VISIBLE_DEVICES="3,5"))
    assert out.returncode == 0, out.stderr
    gpus = dict(line.split() for line in out.stdout.splitlines() if not line.startswith("+"))
    assert gpus == {"A": "3", "B": "5", "C": "5", "D": "5"}
