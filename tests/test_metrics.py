"""Metrics against known answers: synthetic encoders of known quality, and tiny hand cases."""
import math

import numpy as np
import pytest
from scipy.stats import ortho_group

from disvae.datasets.base import GroundTruthDataset
from disvae.metrics import DEFAULT_METRICS, FAMILIES, FunctionRepresentation, compute_metrics, quick_counts
from disvae.metrics.dci import dci_from_importance
from disvae.metrics.info import discrete_entropy, discrete_mutual_info, sampled_marginal_entropies
from disvae.metrics.mig import gaps
from disvae.metrics.research import traversal_correlation, traversal_ratios
from disvae.metrics.sap import sap_from_scores


class ToyFactors(GroundTruthDataset):
    lat_names = ("a", "b", "shape")
    lat_sizes = (5, 6, 8)
    img_size = (1, 32, 32)


DATASET = ToyFactors()
LATENT_DIM = 5
# each family's quick counts (a family added later is covered without an edit), these tuned to the toy data
SMALL = dict(quick_counts(1000), mig={"n_points": 2000}, dci={"n_train": 1500, "n_test": 500}, sap={"n_train": 1500, "n_test": 500},
             factorvae={"n_train": 800, "n_test": 400, "n_std": 2000}, betavae={"n_train": 800, "n_test": 400},
             research={"n_bases": 16})


def scaled(classes):
    return classes / (np.array(DATASET.lat_sizes) - 1)


def identity_code(classes):
    """Each factor copied into its own latent (scaled to [0, 1]), two constant padding latents."""
    return np.concatenate([scaled(classes), np.zeros((len(classes), LATENT_DIM - 3))], 1)


ROTATION = ortho_group.rvs(LATENT_DIM, random_state=3)


def rotated_code(classes):
    return identity_code(classes) @ ROTATION


def noise_code(classes, rng=np.random.default_rng(0)):
    return rng.standard_normal((len(classes), LATENT_DIM))


@pytest.fixture(scope="module")
def scores():
    results = {}
    for name, fn in (("identity", identity_code), ("rotated", rotated_code), ("noise", noise_code)):
        rep = FunctionRepresentation(fn, DATASET, logvar=-10.0)
        results[name] = compute_metrics(rep, DATASET, np.random.default_rng(1), **SMALL)
    return results


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_returns_its_labelled_keys(family):
    """What a family declares holds: its labelled keys come back as finite numbers at its
    quick counts, and its headline keys are among them."""
    declared = FAMILIES[family]
    values = compute_metrics(FunctionRepresentation(identity_code, DATASET, logvar=-10.0), DATASET,
                             np.random.default_rng(0), [family], **{family: declared.quick(300)})
    assert set(declared.headline) <= set(declared.labels) <= set(values)
    assert all(np.isfinite(values[key]) for key in declared.labels) and family in values["seconds"]


def test_identity_code_scores_near_one(scores):
    s = scores["identity"]
    for key in ("mig_sampled", "mig_histogram", "aam_sampled", "aam_histogram", "factor_vae_score",
                "beta_vae_score", "linearity_ratio", "axis_alignment_ratio", "gt_correlation"):
        assert s[key] > 0.97, (key, s[key])
    assert s["dci_disentanglement"] > 0.9 and s["dci_completeness"] > 0.9 and s["dci_informativeness"] > 0.95
    assert s["mig_sampled_no_shape"] > 0.97


def test_rotation_keeps_linearity_and_drops_alignment(scores):
    identity, rotated = scores["identity"], scores["rotated"]
    assert rotated["linearity_ratio"] > 0.97
    assert rotated["axis_alignment_ratio"] < identity["axis_alignment_ratio"] - 0.2
    assert rotated["mig_sampled"] < identity["mig_sampled"] - 0.3
    assert rotated["mig_histogram"] < identity["mig_histogram"] - 0.3
    assert rotated["dci_disentanglement"] < identity["dci_disentanglement"] - 0.2


def test_noise_scores_near_zero(scores):
    s = scores["noise"]
    for key in ("mig_sampled", "mig_histogram", "dci_disentanglement", "sap"):
        assert s[key] < 0.1, (key, s[key])
    assert abs(s["gt_correlation"]) < 0.15
    assert s["factor_vae_score"] < 0.55 and s["beta_vae_score"] < 0.55  # chance is 1/3
    assert s["sap"] < scores["identity"]["sap"] - 0.1


def test_every_metric_is_timed(scores):
    assert set(scores["identity"]["seconds"]) == set(DEFAULT_METRICS) and "mig_chen" not in DEFAULT_METRICS


def test_discrete_information_hand_cases():
    a = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    assert discrete_entropy(a) == pytest.approx(math.log(4))
    assert discrete_mutual_info(a, a) == pytest.approx(math.log(4))
    b = np.array([0, 1, 0, 1, 0, 1, 0, 1])  # independent of a
    assert discrete_mutual_info(a, b) == pytest.approx(0.0, abs=1e-12)
    assert discrete_mutual_info(a, a // 2) == pytest.approx(math.log(2))


def test_gaussian_entropy_closed_form():
    rng = np.random.default_rng(0)
    sigma = 0.7
    samples = rng.normal(0, sigma, (20000, 1))
    h = sampled_marginal_entropies(samples, np.zeros((1, 1)), np.full((1, 1), 2 * math.log(sigma)))
    assert h[0] == pytest.approx(0.5 * math.log(2 * math.pi * math.e * sigma ** 2), abs=0.02)


def test_mig_and_aam_gaps_hand_case():
    mi = np.array([[1.0, 0.1], [0.5, 0.6], [0.0, 0.2]])  # latents x factors
    mig, aam = gaps(mi, np.array([2.0, 1.0]))
    assert mig.tolist() == pytest.approx([0.25, 0.4])
    assert aam.tolist() == pytest.approx([0.5, 0.5])  # (1 - 0.5) / 1, (0.6 - 0.3) / 0.6
    assert gaps(np.zeros((2, 1)), np.array([1.0]))[1].tolist() == [0.0]


def test_dci_hand_cases():
    assert dci_from_importance(np.eye(3)) == pytest.approx((1.0, 1.0))
    assert dci_from_importance(np.ones((3, 3))) == pytest.approx((0.0, 0.0))
    # one latent explains both factors equally: disentanglement 0 for it, completeness 1
    dis, com = dci_from_importance(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert dis == pytest.approx(0.0) and com == pytest.approx(1.0)


def test_sap_hand_case():
    assert sap_from_scores(np.array([[0.9, 0.2], [0.3, 0.8], [0.1, 0.7]])) == pytest.approx((0.6 + 0.1) / 2)


def test_traversal_ratios_hand_cases():
    t = np.linspace(0, 1, 6)[:, None]
    on_axis = np.concatenate([t, np.zeros((6, 2))], 1)
    assert traversal_ratios(on_axis) == pytest.approx((1.0, 1.0))
    diagonal = np.concatenate([t, t, np.zeros((6, 1))], 1)
    assert traversal_ratios(diagonal) == pytest.approx((1.0, 0.5))
    square = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float)
    assert traversal_ratios(square) == pytest.approx((0.5, 0.5))
    assert traversal_correlation(diagonal) == pytest.approx(1.0)
    assert traversal_correlation(diagonal[::-1]) == pytest.approx(1.0)


def test_dci_in_parallel_equals_sequential():
    """The classifiers' seeds are drawn before they are spread over processes."""
    from disvae.metrics.dci import dci
    rep = FunctionRepresentation(rotated_code, DATASET)
    one = dci(rep, DATASET, np.random.default_rng(7), n_train=600, n_test=200, n_jobs=1)
    three = dci(rep, DATASET, np.random.default_rng(7), n_train=600, n_test=200, n_jobs=3)
    assert one == three


def test_normalised_ratios_limits():
    """disent's normalised ratios: 1 for an axis-aligned traversal, about 0 for isotropic noise."""
    from disvae.metrics.research import geometric_mean, normalise_ratio
    line = np.zeros((10, 5))
    line[:, 2] = np.arange(10)
    assert [normalise_ratio(r, 5) for r in traversal_ratios(line)] == pytest.approx([1.0, 1.0])
    noise = np.random.default_rng(0).standard_normal((200000, 5))
    assert [normalise_ratio(r, 5) for r in traversal_ratios(noise)] == pytest.approx([0.0, 0.0], abs=0.01)
    assert geometric_mean([0.25, 1.0]) == pytest.approx(0.5) and geometric_mean([0.0, 1.0]) == 0.0


def test_normalised_ratio_keys(scores):
    s = scores["identity"]
    assert s["linearity_ratio_normalised"] == pytest.approx(1.0) and s["axis_alignment_ratio_normalised"] == \
        pytest.approx(1.0)
    assert scores["noise"]["axis_alignment_ratio_normalised"] < 0.3


@pytest.mark.parametrize("model_type", ["Burgess", "Higgins"])
def test_model_representation_equals_the_plain_encoder(model_type):
    """The metrics' encoder (a channels-last copy on the CPU) gives the model's own
    posterior, to float32 rounding, and leaves the model as it was."""
    import torch
    from disvae.metrics import ModelRepresentation
    from disvae.models import build_model
    from disvae.datasets import load_dataset
    dataset = load_dataset("xyobject")
    torch.manual_seed(0)
    model = build_model(model_type, dataset.img_size, 6).eval()
    indices = np.array([3, 70000, 12, 4096])
    mean, logvar = ModelRepresentation(model, dataset, batch_size=3)(indices)
    with torch.no_grad():
        expected_mean, expected_logvar = model.encoder(dataset.get_batch(torch.from_numpy(indices)))
    assert np.allclose(mean, expected_mean.numpy(), atol=1e-6)
    assert np.allclose(logvar, expected_logvar.numpy(), atol=1e-6)
    assert all(p.is_contiguous() for p in model.parameters())


def test_the_sparse_memo_of_a_huge_dataset_gives_the_dense_memos_rows(monkeypatch):
    """Beyond MAX_DENSE images the representation keeps rows of the encoded images only: the
    same posteriors as the dense memo for repeated, unsorted indices, each image encoded once."""
    import torch
    import disvae.metrics.representation as representation
    from disvae.datasets import load_dataset
    from disvae.models import build_model
    dataset = load_dataset("xyobject")
    torch.manual_seed(0)
    model = build_model("Burgess", dataset.img_size, 5).eval()
    dense = representation.ModelRepresentation(model, dataset, batch_size=4)
    monkeypatch.setattr(representation, "MAX_DENSE", 10)
    sparse = representation.ModelRepresentation(model, dataset, batch_size=4)
    assert sparse.sparse is not None and dense.sparse is None
    for indices in ([9, 3, 70000, 3], [12, 9, 5, 70000, 4096, 12], [5]):
        for (a, b) in zip(sparse(np.array(indices)), dense(np.array(indices))):
            assert np.allclose(a, b, atol=1e-6)
    assert sparse.n_encoded == dense.n_encoded == 6
    assert sparse.sparse.keys.tolist() == [3, 5, 9, 12, 4096, 70000]


class Positions(GroundTruthDataset):
    lat_names = ("scale", "posX", "posY")
    lat_sizes = (6, 32, 32)
    img_size = (1, 32, 32)


class TableRepresentation:
    """Posterior means and log-variances given per dataset index."""

    def __init__(self, mean, logvar):
        self.mean, self.logvar = mean, logvar

    def __call__(self, indices):
        return self.mean[indices], self.logvar[indices]


def mi_by_estimator(representation, dataset, n_points, rng):
    """{estimator: (Z, F) I(z_j; v_k)}: sampled on `n_points`, histogram and Chen's on the
    whole dataset (6,144 points, about the 10,000 that the histogram uses in practice)."""
    from disvae.metrics.mig import factor_sample, mutual_info_histogram, mutual_info_sampled
    subsample = rng.choice(len(dataset), n_points, replace=False)
    mean, logvar = representation(subsample)
    factors, _, _ = factor_sample(dataset, subsample)
    everything = np.arange(len(dataset))
    all_factors, _, _ = factor_sample(dataset, everything)
    return {"histogram": mutual_info_histogram(representation(everything)[0], all_factors),
            "sampled": mutual_info_sampled(mean.astype(float), logvar.astype(float), factors, rng),
            "chen": mutual_info_sampled(*(a.astype(float) for a in representation(everything)), all_factors, rng,
                                        n_samples=len(dataset))}


def test_an_independent_discrete_latent_scores_zero_with_every_estimator():
    dataset, rng = Positions(), np.random.default_rng(0)
    mean = rng.integers(0, 4, (len(dataset), 1)).astype(np.float32)  # 4 values, independent of every factor
    scores = mi_by_estimator(TableRepresentation(mean, np.full_like(mean, -10.0)), dataset, 4000, rng)
    for estimator, mi in scores.items():
        assert mi.max() < 0.03, (estimator, mi)  # nats; H(posX) = 3.47


def scale_and_jitter(dataset, sigma, rng):
    """A latent that encodes scale, plus jitter independent of every factor, posterior sigma."""
    classes = dataset.index_to_classes(np.arange(len(dataset))).numpy()
    mean = (classes[:, :1] / 5 + 0.05 * rng.standard_normal((len(dataset), 1))).astype(np.float32)
    return TableRepresentation(mean, np.full_like(mean, 2 * math.log(sigma)))


def test_a_sharp_latent_of_scale_alone_says_nothing_about_position():
    """Sigma 1e-3: I(z; posX) is 0, but a mixture over a 2,000-point subsample identifies each
    sample by its own component (the sampled estimator's bias); the headline estimator
    (histogram of the means) stays near 0 and finds scale."""
    dataset, rng = Positions(), np.random.default_rng(1)
    scores = mi_by_estimator(scale_and_jitter(dataset, 1e-3, rng), dataset, 2000, rng)
    position = [1, 2]
    assert scores["histogram"][0, position].max() < 0.06  # its plug-in bias, 19 x 31 / (2 x 6144) = 0.048
    assert scores["sampled"][0, position].min() > 0.5  # the bias this guards against
    assert scores["histogram"][0, 0] > 1.0  # scale is found (H(scale) = 1.79 nats)


def test_chen_estimator_is_unbiased_once_the_mixture_is_dense():
    """Chen's estimator is exact for the mixture over the whole dataset: once the dataset's
    means are denser than the posteriors are wide (sigma 0.03 here; the 192 images of one
    position have 32 means per scale over a jitter of std 0.05), I(z; posX) is ~0, while the
    2,000-point mixture of the sampled estimator still is not at sigma 1e-3. (At sigma 1e-3 on this 6,144-image toy the means are
    sparser than the posteriors and Chen's estimate is 0.79 nats: the empirical mixture
    then does identify each image, and with it its position.)"""
    dataset, rng = Positions(), np.random.default_rng(1)
    scores = mi_by_estimator(scale_and_jitter(dataset, 0.03, rng), dataset, 2000, rng)
    assert scores["chen"][0, [1, 2]].max() < 0.05
    assert scores["chen"][0, 0] > 1.0
