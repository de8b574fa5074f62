"""The pretrained models shipped in results/ (issue 12): each loads safely, its files
are the ones its PRETRAINED.md and the README gallery promise, its metrics.log agrees
with the model's weights, and `main_viz.py NAME all` succeeds on it (on a copy, so the
shipped files are not touched)."""
import json
import os
import shutil

import pytest

import main_viz
from disvae.config import split_experiment
from disvae.datasets import DATASETS
from disvae.evaluate import weights_checksum
from disvae.losses import LOSSES
from disvae.modelio import load_model
from disvae.results import SHIPPED_MARK

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "results")
CARDED = sorted(name for name in os.listdir(RESULTS) if os.path.exists(os.path.join(RESULTS, name, SHIPPED_MARK)))
# the reference toolkit's own models, imported (bin/import_reference.py), and disvae's own
REFERENCE = [name for name in CARDED if os.path.isdir(os.path.join(RESULTS, name, "reference"))]
SHIPPED = [name for name in CARDED if name not in REFERENCE]
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


def test_readme_gallery_shows_each_canonical_shipped_model():
    """The README's gallery shows the traversals of each shipped <loss>_<dataset> model (its
    table is generated and checked by tests/test_docs.py)."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    canonical = [name for name in SHIPPED if split_experiment(name, LOSSES, DATASETS)]
    assert len(canonical) == 10
    assert all(f'<img src="results/{name}/posterior_traversals.gif"' in readme for name in canonical)
