"""Research figures (issue 11): distances along factor traversals, the XYSquares spacing
figure, factor traversal grids, the per-latent table; each checked against a closed
form or a brute-force computation."""
import csv

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import main_viz
from disvae.datasets import load_dataset
from disvae.datasets.base import GroundTruthDataset
from disvae.distances import (factor_distance_matrices, ground_truth_distances, pairwise_mse, rank_correlation,
                             traversal_indices)
from disvae.metrics import FunctionRepresentation
from disvae.metrics.latents import latent_table

PIXELS = 3 * 64 * 64


def xysquares_matrices(spacing):
    return factor_distance_matrices(load_dataset("xysquares", spacing=spacing), np.random.default_rng(0), n_bases=4)


def test_xysquares_at_spacing_8_is_equidistant():
    """Squares 8 px wide on an 8 px grid never overlap: moving one changes 2 x 64 pixels
    of one channel by 1 whatever the distance, so every off-diagonal MSE is 128 / 12288."""
    for factor, entry in xysquares_matrices(8).items():
        off = entry["perceived"][~np.eye(8, dtype=bool)]
        assert np.allclose(off, 128 / PIXELS), factor
        assert np.isnan(rank_correlation(entry["ground_truth"], entry["perceived"]))


def test_xysquares_at_spacing_1_orders_distances():
    """At spacing 1 a shift by d < 8 px changes 2 x 8 x d pixels: MSE 16 d / 12288, and
    16 x 8 / 12288 from d = 8 on, so the perceived distances rank like the ground truth."""
    entry = xysquares_matrices(1)["x_R"]
    d = np.arange(57)
    expected = 16 * np.minimum(np.abs(d[:, None] - d[None, :]), 8) / PIXELS
    assert np.allclose(entry["perceived"], expected)
    assert np.allclose(entry["ground_truth"], np.abs(d[:, None] - d[None, :]))
    assert len(np.unique(entry["perceived"].round(12))) > 2
    assert rank_correlation(entry["ground_truth"], entry["perceived"]) > 0.7


def test_pairwise_mse_and_ground_truth_brute_force():
    rng = np.random.default_rng(1)
    images = torch.from_numpy(rng.random((5, 3, 4, 4)))
    brute = np.array([[((a - b) ** 2).mean().item() for b in images] for a in images])
    assert np.allclose(pairwise_mse(images), brute)
    dsprites = load_dataset("dsprites")
    scale = dsprites.factor_values[1]
    assert np.allclose(ground_truth_distances(dsprites, 1), [[abs(a - b) for b in scale] for a in scale])


def test_traversals_vary_one_factor():
    dsprites = load_dataset("dsprites")
    indices = traversal_indices(dsprites, 2, 3, np.random.default_rng(0))
    classes = dsprites.index_to_classes(torch.from_numpy(indices.reshape(-1))).numpy().reshape(3, 40, 5)
    assert (classes[:, :, 2] == np.arange(40)).all()
    others = np.delete(classes, 2, axis=2)
    assert (others == others[:, :1]).all()


class Toy(GroundTruthDataset):
    lat_names = ("a", "b", "c")
    lat_sizes = (4, 5, 6)
    img_size = (1, 8, 8)


def test_latent_table_closed_form():
    """Latent j copies factor perm[j] with a known posterior: KL and the mean variance
    are the closed forms, and each latent's best factor is the one it copies."""
    dataset, perm, logvar = Toy(), [2, 0, 1], -1.5

    def code(classes):
        return np.stack([classes[:, k] / 3.0 for k in perm], 1).astype(np.float64)

    representation = FunctionRepresentation(code, dataset, logvar=logvar)
    rows = latent_table(representation, dataset, np.random.default_rng(0), n_points=len(dataset))
    classes = dataset.index_to_classes(torch.arange(len(dataset))).numpy()
    for j, row in enumerate(rows):
        mean = classes[:, perm[j]] / 3.0
        kl = np.mean(0.5 * (mean ** 2 + np.exp(logvar) - logvar - 1))
        assert row["kl"] == pytest.approx(kl, rel=1e-5)
        assert row["posterior_variance"] == pytest.approx(np.exp(logvar), rel=1e-5)
        assert row["factor"] == dataset.lat_names[perm[j]]
        assert row["mutual_info_normalised"] == pytest.approx(1.0)  # the latent determines its factor


def not_blank(path):
    image = iio.imread(path)
    return path.stat().st_size > 1000 and image.std() > 1


def test_dataset_figures_without_a_model(results_dir):
    assert main_viz.main(["--dataset", "xysquares", "all", "-s", "0", "--n-bases", "2"]) == 0
    folder = results_dir / "dataset_xysquares"
    for name in ("factor_traversals.png", "distances.png", "xysquares_spacing.png"):
        assert not_blank(folder / name), name
    grid = iio.imread(folder / "factor_traversals.png")
    assert grid.shape[0] == 6 * 66 + 2  # six factor rows of 64 px with 2 px padding


def test_dataset_figures_refuse_model_plots(results_dir, capsys):
    with pytest.raises(SystemExit) as exit_:
        main_viz.main(["--dataset", "dsprites", "latents"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_model_figures_and_latent_table(results_dir):
    import main
    assert main.main(["fig", "-d", "xyobject", "-l", "betaH", "-e", "1", "--max-steps", "2", "-b", "8", "-z", "3",
                      "--no-test", "--no-progress-bar", "-L", "warning"]) == 0
    assert main_viz.main(["fig", "latents", "latent-distances", "factor-traversals", "-s", "0", "--n-bases", "2",
                          "--n-points", "500"]) == 0
    folder = results_dir / "fig"
    assert not_blank(folder / "latent_distances.png") and not_blank(folder / "factor_traversals.png")
    rows = list(csv.DictReader((folder / "latents.csv").open()))
    assert [int(r["latent"]) for r in rows] == [0, 1, 2]
    # the same sample (seed 0) encoded here: the KL column is the closed form on it
    from disvae.modelio import load_model
    model, _ = load_model(str(folder))
    dataset = load_dataset("xyobject")
    indices = np.sort(np.random.default_rng(0).choice(len(dataset), 500, replace=False))
    with torch.no_grad():
        mean, logvar = model.encoder(dataset.get_batch(torch.from_numpy(indices)))
    kl = (0.5 * (mean ** 2 + logvar.exp() - logvar - 1)).mean(0).numpy()
    assert [float(r["kl"]) for r in rows] == pytest.approx(kl.tolist(), rel=1e-4, abs=1e-6)
    assert all(r["factor"] in dataset.lat_names for r in rows)
