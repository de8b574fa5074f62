"""The pretrained models shipped in results/ (issue 12): each loads safely, its files
are the ones its PRETRAINED.md and the README gallery promise, its metrics.log agrees
with the model's weights, and `main_viz.py NAME all` succeeds on it (on a copy, so the
shipped files are not touched)."""
import json
import os
import shutil
import sys

import pytest

import disvae.results
import main_viz
from disvae.evaluate import weights_checksum
from disvae.modelio import load_model
from disvae.results import SHIPPED_MARK

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "results")
SHIPPED = ["VAE_dsprites", "betaH_dsprites", "betaB_dsprites", "factor_dsprites", "btcvae_dsprites",
           "dipvaeI_dsprites", "dipvaeII_dsprites", "adatvae_dsprites", "adatvae_xyobject", "adatvae_xysquares"]
# the reference toolkit's own models, imported (bin/import_reference.py)
REFERENCE = ["reference_VAE_dsprites", "reference_betaH_dsprites", "reference_betaB_dsprites",
             "reference_factor_dsprites", "reference_btcvae_dsprites"]
REFERENCE_FILES = ["model.pt", "specs.json", "train_losses.log", "metrics.log", "traversals.png",
                   "reference/LICENSE", "reference/specs.json", SHIPPED_MARK]
FILES = ["model.pt", "specs.json", "train_losses.log", "train_steps.csv", "metrics.log", "training.gif",
         "posterior_traversals.gif", "traversals.png", "loss_curves.png", SHIPPED_MARK]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_and_matches_its_metrics(name):
    folder = os.path.join(RESULTS, name)
    missing = [f for f in FILES if not os.path.exists(os.path.join(folder, f))]
    assert not missing, f"{name} lacks {missing}"
    assert not [f for f in os.listdir(folder) if f.startswith("model-") or f == "checkpoint.json"]  # no checkpoints
    assert sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) < 8e6
    model, specs = load_model(folder)
    assert specs["status"] == "done" and specs["global_step"] > 0
    assert f"{specs['global_step']:,} steps" in open(os.path.join(folder, SHIPPED_MARK)).read()
    metrics = json.loads(open(os.path.join(folder, "metrics.log")).read())
    digest = weights_checksum(model)
    assert {record["weights_sha256"] for record in metrics["families"].values()} == {digest}
    assert {"mig", "dci_disentanglement", "sap", "factor_vae_score", "beta_vae_score",
            "linearity_ratio_normalised"} <= set(metrics)


@pytest.mark.parametrize("name", REFERENCE)
def test_imported_reference_model_is_attributed_and_scored(name):
    folder = os.path.join(RESULTS, name)
    missing = [f for f in REFERENCE_FILES if not os.path.exists(os.path.join(folder, f))]
    assert not missing, f"{name} lacks {missing}"
    assert "MIT License" in open(os.path.join(folder, "reference", "LICENSE")).read()
    model, specs = load_model(folder)
    assert specs["global_step"] == 345600 and specs["imported_from"]["toolkit"] == "YannDubs/disentangling-vae"
    assert specs["dataset_version"] == 2  # the official file's images
    card = open(os.path.join(folder, SHIPPED_MARK)).read()
    assert "reference toolkit" in card and "345,600 steps" in card
    metrics = json.loads(open(os.path.join(folder, "metrics.log")).read())
    assert {record["weights_sha256"] for record in metrics["families"].values()} == {weights_checksum(model)}
    assert {record["dataset_version"] for record in metrics["families"].values()} == {2}
    assert {"mig", "dci_disentanglement", "sap", "factor_vae_score", "beta_vae_score",
            "linearity_ratio_normalised"} <= set(metrics)


@pytest.mark.parametrize("name", SHIPPED)
def test_main_viz_all_on_a_shipped_model(results_dir, name):
    shutil.copytree(os.path.join(RESULTS, name), results_dir / name)
    for plot in ("posterior_traversals.gif", "traversals.png", "loss_curves.png"):
        (results_dir / name / plot).unlink()
    assert main_viz.main([name, "all", "-s", "1", "-r", "2", "-c", "3", "--n-bases", "2", "--n-points", "500"]) == 0
    written = set(os.listdir(results_dir / name))
    expected = {"samples.png", "data_samples.png", "reconstruct.png", "traversals.png", "reconstruct_traverse.png",
                "posterior_traversals.gif", "loss_curves.png", "metrics.png", "factor_traversals.png",
                "distances.png", "latent_distances.png", "latents.csv"}
    assert expected <= written, expected - written


def test_readme_tables_the_shipped_models_as_their_metrics_log(monkeypatch):
    """The README's table of pretrained models is what their metrics.log files say
    (pretrained_card.py --table), and its gallery shows each shipped model's traversals."""
    sys.path.insert(0, os.path.join(ROOT, "bin"))
    from pretrained_card import table
    monkeypatch.setattr(disvae.results, "RESULTS_DIR", RESULTS)  # whatever $DISVAE_RESULTS says
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert table(SHIPPED + REFERENCE) in readme
    assert all(f'<img src="results/{name}/posterior_traversals.gif"' in readme for name in SHIPPED)
