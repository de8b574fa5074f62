"""Adding a loss, a metric family or a dataset is adding a module. In a copy of the code,
a toy of each, declared in a new module and nowhere else, shows up in every command-line
listing, trains and is scored, reaches the bin scripts' tables and job lists, and joins
every test parametrised over its registry."""
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TOY_LOSS = '''
from disvae.losses.base import BaseLoss
from disvae.options import Option, non_negative


class ToyLoss(BaseLoss):
    name = "toyloss"
    options = {"weight": Option("toyloss_weight", 2.0, "Weight of the KL.", non_negative(float))}

    def __init__(self, weight, **kwargs):
        super().__init__(**kwargs)
        self.weight = weight

    def compute(self, model, x):
        rec, kl_per_dim, _, _ = self.vae_terms(model, x)
        loss = rec + self.weight * kl_per_dim.sum()
        return loss, self.base_logs(loss, rec, kl_per_dim)
'''

TOY_METRIC = '''
import numpy as np

from disvae.metrics.family import MetricFamily


def toy_metric(representation, dataset, rng, n_points=100):
    mean, _ = representation(np.sort(rng.choice(len(dataset), min(n_points, len(dataset)), replace=False)))
    return {"toy_spread": float(mean.std())}


FAMILY = MetricFamily("toymetric", toy_metric, quick=lambda n: {"n_points": n}, order=9,
                      labels={"toy_spread": "Toy spread"}, headline=("toy_spread",))
'''

TOY_DATASET = '''
import torch

from disvae.datasets.base import GroundTruthDataset


class ToyBars(GroundTruthDataset):
    name = "toybars"
    lat_names = ("row", "col")
    lat_sizes = (8, 8)
    img_size = (1, 64, 64)

    def __init__(self, root=None, device="cpu"):
        super().__init__(device)

    def render(self, classes):
        band = torch.arange(64, device=classes.device).view(1, -1) // 8
        rows, cols = band == classes[:, :1], band == classes[:, 1:]
        return (rows.unsqueeze(2) | cols.unsqueeze(1)).unsqueeze(1).float()
'''


@pytest.fixture(scope="module")
def toy_tree(tmp_path_factory):
    """A copy of the code with the three toy modules added, and a results folder of its own."""
    tree = tmp_path_factory.mktemp("tree")
    for name in ("disvae", "utils", "bin", "tests"):
        shutil.copytree(os.path.join(ROOT, name), tree / name, ignore=shutil.ignore_patterns("__pycache__", "data"))
    for name in ("main.py", "main_viz.py", "hyperparam.ini"):
        shutil.copy(os.path.join(ROOT, name), tree / name)
    (tree / "disvae" / "losses" / "toyloss.py").write_text(TOY_LOSS)
    (tree / "disvae" / "metrics" / "toymetric.py").write_text(TOY_METRIC)
    (tree / "disvae" / "datasets" / "toybars.py").write_text(TOY_DATASET)
    (tree / "results").mkdir()
    return tree


def run(tree, *command):
    env = dict(os.environ, DISVAE_RESULTS=str(tree / "results"), CUDA_VISIBLE_DEVICES="", PYTHONPATH="")
    out = subprocess.run(list(command), cwd=tree, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_every_listing_offers_the_toys(toy_tree):
    flat = " ".join(run(toy_tree, sys.executable, "main.py", "-h").split())
    for word in ("toyloss,", "toybars,", "toymetric", "--toyloss-weight", "toyloss_toybars", "toyloss_dsprites"):
        assert word in flat, word
    assert "toybars" in run(toy_tree, sys.executable, "main_viz.py", "-h")
    benchmark = run(toy_tree, sys.executable, "bin/benchmark.py", "-h")
    assert "toyloss" in benchmark and "toybars" in benchmark
    assert "python main.py -x toyloss_dsprites " in run(toy_tree, "bash", "bin/train_all.sh", "-n")


def test_the_toy_loss_trains_on_the_toy_dataset_and_the_toy_metric_scores_it(toy_tree):
    run(toy_tree, sys.executable, "main.py", "toy", "-l", "toyloss", "-d", "toybars", "--toyloss-weight", "3",
        "-e", "1", "--max-steps", "2", "-b", "8", "-z", "3", "--no-test", "--no-progress-bar", "-L", "warning",
        "--is-metrics", "--metrics", "mig", "toymetric", "--metrics-samples", "64")
    metrics = json.loads((toy_tree / "results" / "toy" / "metrics.log").read_text())
    assert metrics["toy_spread"] >= 0 and set(metrics["mig_sampled_per_factor"]) == {"row", "col"}
    table = run(toy_tree, sys.executable, "bin/pretrained_card.py", "--table", "toy")
    assert "Toy spread" in table.splitlines()[0] and "[toyloss, toybars (toy)]" in table
    planned = run(toy_tree, sys.executable, "bin/study.py", "plan", "--losses", "toyloss", "--datasets", "toybars",
                  "--seeds", "2", "--steps", "2", "--status")
    assert "2 runs" in planned


def test_every_registry_parametrised_test_takes_the_toys(toy_tree):
    collected = run(toy_tree, sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                    "tests/test_cli.py", "tests/test_stops.py", "tests/test_syncs.py", "tests/test_datasets.py",
                    "tests/test_metrics.py", "tests/test_layers.py", "tests/test_config.py")
    for test_id in ("test_every_loss_trains_on_dsprites[toyloss]", "test_bf16_autocast_trains_every_loss[toyloss]",
                    "test_a_training_step_never_waits_on_the_device[toyloss-toybars]",
                    "test_index_factor_round_trip_and_ranges[toybars]",
                    "test_triplets_positive_is_closer_over_a_large_sample[toybars]",
                    "test_every_procedural_dataset_trains_with_triplets_and_metrics[toybars]",
                    "test_every_family_returns_its_labelled_keys[toymetric]",
                    "test_the_library_never_imports_utils[disvae.losses.toyloss]"):
        assert test_id in collected, test_id
