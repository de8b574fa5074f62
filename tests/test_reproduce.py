"""The summaries of a table of runs (bin/summarize.py) and the shipped models' cards."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bin"))


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



def test_ship_copies_the_best_seed_without_checkpoints_and_never_replaces_a_run(tiny_run, capsys):
    import json
    from ship import main as ship
    runs = {}
    for name, seed, mig in (("tiny", 1, 0.1), ("tiny_seed2", 2, 0.3), ("tiny_seed3", 3, 0.2)):
        folder = runs[seed] = tiny_run(name)
        specs = json.loads((folder / "specs.json").read_text())
        specs["args"]["seed"] = seed
        (folder / "specs.json").write_text(json.dumps(specs))
        (folder / "metrics.log").write_text(json.dumps({"mig_histogram": mig, "seed": seed}))
        (folder / "model-step2.pt").write_bytes(b"a checkpoint")
    assert ship(["best", "tiny", "tiny_seed2", "tiny_seed3", "--budget", "2 steps"]) == 0
    shipped = runs[2].parent / "best"
    assert (shipped / "model.pt").exists() and (shipped / "metrics.log").exists()
    assert not [f for f in os.listdir(shipped) if f.startswith(("model-", ".")) or f == "checkpoint.json"]
    specs = json.loads((shipped / "specs.json").read_text())["args"]
    assert (specs["name"], specs["seed"]) == ("best", 2)  # seed 2 has the highest MIG
    text = (shipped / "PRETRAINED.md").read_text()
    assert "the best by MIG (histogram) of 3 seeds (1: 0.100, 2: 0.300, 3: 0.200), trained as results/tiny_seed2" in text
    assert "\npython main.py best " in text and " --seed 2" in text
    # a shipped model is replaced only when asked; a run that is not shipped never
    capsys.readouterr()
    assert ship(["best", "tiny", "--budget", "2 steps"]) == 1 and "--replace" in capsys.readouterr().err
    assert ship(["best", "tiny", "--budget", "2 steps", "--replace"]) == 0
    assert json.loads((shipped / "specs.json").read_text())["args"]["seed"] == 1
    assert ship(["tiny_seed3", "tiny", "--budget", "2 steps", "--replace"]) == 1
    assert "not a shipped model" in capsys.readouterr().err and not (runs[3] / "PRETRAINED.md").exists()
    # an unfinished run is never shipped, and nothing is left behind
    specs = json.loads((runs[3] / "specs.json").read_text())
    (runs[3] / "specs.json").write_text(json.dumps(dict(specs, status="running")))
    assert ship(["other", "tiny", "tiny_seed3", "--budget", "2 steps"]) == 1
    assert "not a finished run" in capsys.readouterr().err
    assert sorted(os.listdir(runs[1].parent)) == ["best", "tiny", "tiny_seed2", "tiny_seed3"]
