"""Every loss term against an independent computation."""
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from disvae.config import all_options, run_parameters
from disvae.datasets.loaders import image_distance
from disvae.losses import LOSSES, get_loss_f
from disvae.losses.betab import BetaBLoss
from disvae.losses.betah import BetaHLoss
from disvae.losses.btcvae import BtcvaeLoss
from disvae.losses.dipvae_i import DipVAEILoss
from disvae.losses.dipvae_ii import DipVAEIILoss
from disvae.losses.factor import FactorKLoss, permute_dims
from disvae.gaussian import kl_normal_per_dim, log_density_gaussian, log_density_gaussian_quadratic
from disvae.losses.terms import (batch_covariance, covariance_penalty, linear_annealing, log_importance_weight_matrix,
                                 log_q_decomposition, reconstruction_loss)
from disvae.losses.vae import VAELoss
from disvae.models import build_model

torch.manual_seed(0)


def test_kl_normal_matches_torch_distributions():
    mean, logvar = torch.randn(7, 5), torch.randn(7, 5)
    expected = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean(0)
    assert torch.allclose(kl_normal_per_dim(mean, logvar), expected, atol=1e-5)


def test_log_density_matches_torch_distributions():
    x, mean, logvar = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    expected = Normal(mean, (0.5 * logvar).exp()).log_prob(x)
    assert torch.allclose(log_density_gaussian(x, mean, logvar), expected, atol=1e-5)


def test_quadratic_form_of_the_log_density_is_the_log_density():
    z, mean, logvar = torch.randn(5, 1, dtype=torch.float64), torch.randn(1, 4, dtype=torch.float64), \
        torch.randn(1, 4, dtype=torch.float64) - 8
    a, b, c = log_density_gaussian_quadratic(mean, logvar)
    assert torch.allclose(a * z ** 2 + b * z + c, log_density_gaussian(z, mean, logvar), rtol=1e-9)


def test_reconstruction_losses_against_hand_formulas():
    logits, x = torch.randn(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    p = torch.sigmoid(logits)
    bce = -(x * p.log() + (1 - x) * (1 - p).log()).sum() / 3
    assert torch.allclose(reconstruction_loss(logits, x, "bernoulli"), bce, atol=1e-4)
    mse = ((p * 255 - x * 255) ** 2).sum() / 255 / 3
    assert torch.allclose(reconstruction_loss(logits, x, "gaussian"), mse, rtol=1e-5)
    l1 = (p - x).abs().sum() * 3 / 3
    assert torch.allclose(reconstruction_loss(logits, x, "laplace"), l1, rtol=1e-5)


def test_mse_is_the_squared_error_of_images_standardised_by_the_datasets_channel_stats():
    """-r mse: the squared error between the reconstruction and the image, both standardised
    ((v - mean_c) / std_c) by the dataset's per-channel statistics, here computed with numpy
    over every image of a 64-image XYSquares."""
    from disvae.datasets import load_dataset
    dataset = load_dataset("xysquares", spacing=56)
    images = dataset.get_batch(torch.arange(len(dataset))).numpy().astype(np.float64)  # (64, 3, 64, 64)
    mean, std = images.mean(axis=(0, 2, 3)), images.std(axis=(0, 2, 3))
    assert dataset.channel_std().numpy() == pytest.approx(std, rel=1e-5)
    x = torch.from_numpy(images[:4]).float()
    logits = torch.randn_like(x)
    p = torch.sigmoid(logits).double().numpy()
    standardised = lambda v: (v - mean[:, None, None]) / std[:, None, None]
    expected = ((standardised(p) - standardised(images[:4])) ** 2).sum(axis=(1, 2, 3))
    got = reconstruction_loss(logits, x, "mse", reduce_batch=False, pixel_std=dataset.channel_std())
    assert got.double().numpy() == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="needs the dataset's per-channel pixel std"):
        reconstruction_loss(logits, x, "mse")


def test_image_distances_are_the_same_losses_on_pixel_probabilities():
    """The unsupervised triplet's distance of image b to image a: the mean per-pixel loss
    of b under a's pixels as probabilities (the cross-entropy clamped away from 0 and 1)."""
    a, b = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    a[0, 0, 0, 0] = 0.0
    q = a.clamp(1e-4, 1 - 1e-4)
    std = torch.tensor([0.25])
    expected = {"bernoulli": -(b * q.log() + (1 - b) * (1 - q).log()), "gaussian": (a - b) ** 2 * 255,
                "laplace": (a - b).abs() * 3, "mse": (a / 0.25 - b / 0.25) ** 2}
    assert set(expected) == set(all_options()["rec_dist"].choices)
    for rec_dist, per_pixel in expected.items():
        assert torch.allclose(image_distance(a, b, rec_dist, pixel_std=std), per_pixel.flatten(1).mean(1), rtol=1e-5)


@pytest.mark.parametrize("batch_size,n_data", [(5, 100), (8, 737280)])
def test_mss_weights_rows_sum_to_one_with_diagonal(batch_size, n_data):
    w = log_importance_weight_matrix(batch_size, n_data).double().exp()
    m = batch_size - 1
    assert torch.allclose(w.sum(1), torch.ones(batch_size, dtype=torch.double), atol=1e-6)
    assert torch.allclose(w.diagonal(), torch.full((batch_size,), 1 / n_data, dtype=torch.double))
    strat = (n_data - m) / (n_data * m)
    for i in range(batch_size):
        row = w[i].clone()
        row[i] = float("nan")
        n_strat = int(torch.isclose(row, torch.tensor(strat, dtype=torch.double), rtol=1e-7, atol=0).sum())
        n_other = int(torch.isclose(row, torch.tensor(1 / m, dtype=torch.double), rtol=1e-7, atol=0).sum())
        if strat != 1 / m:
            assert (n_strat, n_other) == (1, batch_size - 2)


def brute_force_log_q(z, mean, logvar, weights, per_dim):
    """log q(z_i) = log sum_j w_ij prod_d N(z_id | x_j) (or per dimension), with loops."""
    batch, dim = z.shape
    out = np.zeros((batch, dim)) if per_dim else np.zeros(batch)
    for i in range(batch):
        if per_dim:
            for d in range(dim):
                out[i, d] = math.log(sum(weights[i, j] * math.exp(
                    Normal(float(mean[j, d]), math.exp(0.5 * float(logvar[j, d]))).log_prob(z[i, d]).item())
                    for j in range(batch)))
        else:
            out[i] = math.log(sum(weights[i, j] * math.exp(sum(
                Normal(float(mean[j, d]), math.exp(0.5 * float(logvar[j, d]))).log_prob(z[i, d]).item()
                for d in range(dim))) for j in range(batch)))
    return out


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_log_qz_against_brute_force(estimator):
    torch.manual_seed(1)
    batch, dim, n_data = 4, 3, 50
    mean, logvar = torch.randn(batch, dim, dtype=torch.double), torch.randn(batch, dim, dtype=torch.double) * 0.3
    z = mean + (0.5 * logvar).exp() * torch.randn(batch, dim, dtype=torch.double)
    if estimator == "mss":
        m = batch - 1
        weights = np.full((batch, batch), 1 / m)
        for i in range(batch):
            weights[i, i] = 1 / n_data
            weights[i, (i + 1) % batch] = (n_data - m) / (n_data * m)
    else:
        weights = np.full((batch, batch), 1 / (batch * n_data))
    log_pz, log_qz, log_prod, log_qzx = log_q_decomposition(z, mean, logvar, n_data, estimator)
    assert np.allclose(log_qz.numpy(), brute_force_log_q(z, mean, logvar, weights, False), atol=1e-8)
    assert np.allclose(log_prod.numpy(), brute_force_log_q(z, mean, logvar, weights, True).sum(1), atol=1e-8)
    assert torch.allclose(log_pz, Normal(0.0, 1.0).log_prob(z).sum(1))
    assert torch.allclose(log_qzx, Normal(mean, (0.5 * logvar).exp()).log_prob(z).sum(1))


def test_btcvae_terms_sum_to_the_kl_estimate():
    """MI + TC + dw-KL = E[log q(z|x) - log p(z)] by definition of the three terms."""
    torch.manual_seed(2)
    model = build_model("Burgess", (1, 32, 32), 4)
    loss_f = BtcvaeLoss(n_data=1000, alpha=1, beta=1, gamma=1)
    x = torch.rand(6, 1, 32, 32)
    torch.manual_seed(3)
    _, logs = loss_f(model, x)
    torch.manual_seed(3)
    _, (mean, logvar), z = model(x)
    log_pz, _, _, log_qzx = log_q_decomposition(z, mean, logvar, 1000)
    total = logs["mi_loss"] + logs["tc_loss"] + logs["dw_kl_loss"]
    assert torch.allclose(total, (log_qzx - log_pz).mean(), atol=1e-4)


def test_betab_capacity_schedule_is_linear():
    loss_f = BetaBLoss(C_init=0.0, C_fin=25.0, gamma=1000.0, steps_anneal=100)
    model = build_model("Burgess", (1, 32, 32), 3)
    x = torch.rand(2, 1, 32, 32)
    capacities = []
    for _ in range(150):
        capacities.append(float(loss_f(model, x)[1]["capacity"]))
    assert capacities[0] == pytest.approx(0.25)  # step 1
    assert capacities[49] == pytest.approx(12.5)  # step 50
    assert capacities[99] == pytest.approx(25.0) and capacities[-1] == pytest.approx(25.0)
    loss_f.eval()
    assert float(loss_f(model, x)[1]["capacity"]) == 25.0
    assert [linear_annealing(0, 1, s, 0) for s in (0, 5)] == [1, 1]


def test_betab_loss_formula():
    torch.manual_seed(4)
    model = build_model("Burgess", (1, 32, 32), 3).eval()
    loss_f = BetaBLoss(C_init=0.0, C_fin=5.0, gamma=10.0).eval()
    x = torch.rand(3, 1, 32, 32)
    loss, logs = loss_f(model, x)
    assert torch.allclose(loss, logs["recon_loss"] + 10.0 * (logs["kl_loss"] - 5.0).abs())


def test_batch_covariance_is_numpys_biased_covariance():
    x = torch.randn(9, 4, dtype=torch.double)
    assert np.allclose(batch_covariance(x).numpy(), np.cov(x.numpy(), rowvar=False, bias=True), atol=1e-12)


def test_covariance_penalty_closed_form():
    """lambda_od * sum_{i != j} c_ij^2 + lambda_d * sum_i (c_ii - 1)^2 on a 2x2 case by hand, and
    0 for the identity."""
    cov = torch.tensor([[1.5, 0.3], [0.3, 0.2]], dtype=torch.double)
    expected = 2.0 * (2 * 0.3 ** 2) + 7.0 * ((1.5 - 1) ** 2 + (0.2 - 1) ** 2)
    assert float(covariance_penalty(cov, 2.0, 7.0)) == pytest.approx(expected, rel=1e-12)
    assert float(covariance_penalty(torch.eye(5), 3.0, 30.0)) == 0.0


def test_dip_penalties_vanish_at_the_priors_moments():
    """DIP-VAE-I: means whose batch covariance is the identity (centred, orthogonal columns of
    norm sqrt(B)) cost nothing; DIP-VAE-II: identical means with unit variances cost nothing,
    and variances v cost lambda_d * sum (v - 1)^2."""
    batch = 8
    q, _ = torch.linalg.qr(torch.randn(batch, batch, dtype=torch.double))
    centred = q[:, 1:4] - q[:, 1:4].mean(0)
    q2, _ = torch.linalg.qr(centred)
    mean = q2 * math.sqrt(batch)
    assert torch.allclose(batch_covariance(mean), torch.eye(3, dtype=torch.double), atol=1e-10)
    dip1 = DipVAEILoss(lambda_od=5.0, lambda_d_factor=10.0)
    assert float(covariance_penalty(dip1.covariance(mean, torch.zeros_like(mean)), 5.0, 50.0)) == \
        pytest.approx(0.0, abs=1e-18)
    dip2 = DipVAEIILoss(lambda_od=5.0, lambda_d_factor=1.0)
    same = torch.ones(batch, 3, dtype=torch.double)
    variances = torch.tensor([1.0, 2.0, 0.5], dtype=torch.double)
    cov = dip2.covariance(same, variances.log().expand(batch, 3))
    assert torch.allclose(cov, torch.diag(variances))
    assert float(covariance_penalty(cov, dip2.lambda_od, dip2.lambda_d)) == pytest.approx(5.0 * (1 + 0.25))


@pytest.mark.parametrize("loss_cls,factor", [(DipVAEILoss, 10.0), (DipVAEIILoss, 1.0)])
def test_dip_loss_against_a_loop_recomputation(loss_cls, factor):
    """The whole DIP-VAE objective: recon + KL + lambda_od sum_{i!=j} C_ij^2 + lambda_d sum_i
    (C_ii - 1)^2 with C computed entry by entry in loops (eval mode: z is the mean)."""
    torch.manual_seed(9)
    model = build_model("Burgess", (1, 32, 32), 3).eval()
    loss_f = loss_cls(lambda_od=2.0, lambda_d_factor=factor).eval()
    x = torch.rand(6, 1, 32, 32)
    loss, logs = loss_f(model, x)
    with torch.no_grad():
        mean, logvar = (t.double().numpy() for t in model.encoder(x))
    n, dim = mean.shape
    cov = np.zeros((dim, dim))
    for i in range(dim):
        for j in range(dim):
            cov[i, j] = sum((mean[b, i] - mean[:, i].mean()) * (mean[b, j] - mean[:, j].mean()) for b in range(n)) / n
            if loss_cls is DipVAEIILoss and i == j:
                cov[i, j] += np.exp(logvar[:, i]).mean()
    penalty = sum(2.0 * cov[i, j] ** 2 for i in range(dim) for j in range(dim) if i != j) \
        + sum(2.0 * factor * (cov[i, i] - 1) ** 2 for i in range(dim))
    assert float(logs["dip_loss"]) == pytest.approx(penalty, rel=1e-4)
    assert float(loss.detach()) == pytest.approx(float(logs["recon_loss"] + logs["kl_loss"]) + penalty, rel=1e-5)


def test_vae_loss_is_plain_elbo_without_typed_reg_anneal():
    args = run_parameters({"loss": "VAE", "dataset": "dsprites"})
    assert args.reg_anneal == 0
    loss_f = get_loss_f("VAE", args, 100)
    model = build_model("Burgess", (1, 64, 64), 3).eval()
    x = torch.rand(2, 1, 64, 64)
    loss, logs = loss_f(model, x)
    assert torch.allclose(loss, logs["recon_loss"] + logs["kl_loss"])
    assert run_parameters({"loss": "VAE", "reg_anneal": 7}).reg_anneal == 7


def test_permute_dims_permutes_each_column():
    z = torch.arange(20.0).view(10, 2)
    perm = permute_dims(z)
    for d in range(2):
        assert sorted(perm[:, d].tolist()) == z[:, d].tolist()


@pytest.mark.parametrize("batch_size", [7, 8])
def test_factor_discriminator_never_sends_gradient_to_encoder(batch_size):
    torch.manual_seed(5)
    model = build_model("Burgess", (1, 32, 32), 4)
    loss_f = FactorKLoss(latent_dim=4, gamma=6.0)
    x = torch.rand(batch_size, 1, 32, 32)
    loss, _ = loss_f(model, x)
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    disc_before = [p.clone() for p in loss_f.discriminator.parameters()]
    logs = loss_f.after_step()
    assert "discrim_loss" in logs and torch.isfinite(logs["discrim_loss"])
    for g, p in zip(grads, model.parameters()):
        assert torch.equal(g, p.grad)  # the discriminator step added nothing to the VAE's gradients
    assert any(not torch.equal(a, b) for a, b in zip(disc_before, loss_f.discriminator.parameters()))


def test_factor_tc_estimate_matches_discriminator_logits():
    torch.manual_seed(6)
    model = build_model("Burgess", (1, 32, 32), 4).eval()
    loss_f = FactorKLoss(latent_dim=4).eval()
    x = torch.rand(5, 1, 32, 32)
    _, logs = loss_f(model, x)
    z = model.encoder(x[:3])[0]
    d = loss_f.discriminator(z)
    assert torch.allclose(logs["tc_loss"], (d[:, 0] - d[:, 1]).mean(), atol=1e-5)


def test_factor_state_dict_round_trip_includes_discriminator_optimiser():
    torch.manual_seed(7)
    model = build_model("Burgess", (1, 32, 32), 4)
    loss_f = FactorKLoss(latent_dim=4)
    loss, _ = loss_f(model, torch.rand(4, 1, 32, 32))
    loss.backward()
    loss_f.after_step()
    state = loss_f.state_dict()
    other = FactorKLoss(latent_dim=4)
    other.load_state_dict(state)
    assert other.n_train_steps == 1
    assert other.optimizer_d.state_dict()["state"][0]["step"] == 1
    for a, b in zip(other.discriminator.parameters(), loss_f.discriminator.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_trains_the_encoder_and_logs_per_latent_kl(name):
    torch.manual_seed(8)
    args = run_parameters({"loss": name, "latent_dim": 3, "dataset": "dsprites"})
    loss_f = get_loss_f(name, args, n_data=1000, latent_dim=3)
    loss_f.set_total_steps(10)
    model = build_model("Burgess", (1, 32, 32), 3)
    views = (4, 1, 32, 32) if loss_f.view_sampling is None else (4, 3, 1, 32, 32)
    loss, logs = loss_f(model, torch.rand(*views))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert {"loss", "recon_loss", "kl_loss", "kl_loss_0", "kl_loss_2"} <= set(logs)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_is_at_full_strength_from_step_reg_anneal_on(name):
    """--reg-anneal N only ramps the regularisation in: from step N on, every loss trains
    as it does without annealing (the annealed losses' own ramps: ANNEALED below). A loss's own
    schedule note (the pretrained card's line) replaces --reg-anneal's exactly when --reg-anneal
    does not change its first step."""
    x = torch.rand(4, 3, 1, 32, 32) if LOSSES[name].view_sampling else torch.rand(4, 1, 32, 32)
    values = {}
    for anneal in (4, 0):
        torch.manual_seed(9)
        model = build_model("Burgess", (1, 32, 32), 3).eval()  # z = mean: the same terms at every step
        params = run_parameters({"loss": name, "latent_dim": 3, "dataset": "dsprites", "reg_anneal": anneal})
        loss_f = get_loss_f(name, params, n_data=1000, latent_dim=3).train()
        loss_f.set_total_steps(8)
        values[anneal] = []
        for _ in range(8):
            loss, _ = loss_f(model, x)
            loss_f.after_step()
            values[anneal].append(float(loss.detach()))
    assert values[4][3:] == pytest.approx(values[0][3:], rel=1e-6)  # steps 4..8
    note = LOSSES[name].schedule_note(vars(params), 8)
    assert (note is None) == (values[4][0] != pytest.approx(values[0][0], rel=1e-6))


def test_adatvae_schedule_note_names_the_share_scale_it_trains_with():
    params = run_parameters({"loss": "adatvae", "latent_dim": 3, "dataset": "dsprites", "adatvae_schedule": "weak",
                             "adatvae_share_scale": 0.3})
    loss_f = get_loss_f("adatvae", params, n_data=1000, latent_dim=3).train()
    loss_f.set_total_steps(10)
    start = loss_f.current_share_scale()
    loss_f.n_train_steps = 10
    end, ratio = loss_f.current_share_scale(), loss_f.current_thresh_ratio()
    note = LOSSES["adatvae"].schedule_note(vars(params), 10)
    assert f"share scale {start:g} → {end:g}" in note and f"threshold ratio {ratio:g} (fixed)" in note
    assert (start, end) == (1.0, 0.75)


def test_betah_objective_from_torch_distributions():
    """beta-VAE_H: L = -log Bernoulli(x; sigmoid(logits)) summed over pixels + beta * KL(q(z|x) ||
    N(0, I)) summed over latents, both averaged over the batch (eval mode: z is the mean)."""
    from torch.distributions import Bernoulli
    torch.manual_seed(10)
    model = build_model("Burgess", (1, 32, 32), 3).eval()
    loss_f = BetaHLoss(beta=4.0).eval()
    x = (torch.rand(5, 1, 32, 32) > 0.7).float()
    loss, logs = loss_f(model, x)
    with torch.no_grad():
        logits, (mean, logvar), z = model(x)
        rec = -Bernoulli(logits=logits).log_prob(x).sum((1, 2, 3)).mean()
        kl = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1).mean()
    assert torch.equal(z, mean)
    assert float(logs["recon_loss"]) == pytest.approx(float(rec), rel=1e-5)
    assert float(logs["kl_loss"]) == pytest.approx(float(kl), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(float(rec + 4.0 * kl), rel=1e-5)


ANNEALED = {  # each annealed loss's own ramp: (constructor, the loss rebuilt from its logs with weight w)
    "VAE": (lambda: VAELoss(steps_anneal=10), lambda logs, w: logs["recon_loss"] + w * logs["kl_loss"]),
    "betaH": (lambda: BetaHLoss(beta=4.0, steps_anneal=10),
              lambda logs, w: logs["recon_loss"] + w * 4.0 * logs["kl_loss"]),
    "btcvae": (lambda: BtcvaeLoss(n_data=100, alpha=1.0, beta=6.0, gamma=2.0, steps_anneal=10),
               lambda logs, w: logs["recon_loss"] + logs["mi_loss"] + 6.0 * logs["tc_loss"]
               + w * 2.0 * logs["dw_kl_loss"]),
    "factor": (lambda: FactorKLoss(latent_dim=3, gamma=6.0, steps_anneal=10),
               lambda logs, w: logs["recon_loss"] + logs["kl_loss"] + w * 6.0 * logs["tc_loss"]),
    "dipvaeI": (lambda: DipVAEILoss(lambda_od=2.0, steps_anneal=10),
                lambda logs, w: logs["recon_loss"] + logs["kl_loss"] + w * logs["dip_loss"]),
}


@pytest.mark.parametrize("name", ANNEALED)
def test_regularisation_is_annealed_linearly_over_reg_anneal_steps(name):
    """--reg-anneal N: the annealed term is weighted k / N at the k-th training step, then 1;
    evaluation always uses the full weight."""
    make, expected = ANNEALED[name]
    torch.manual_seed(11)
    model = build_model("Burgess", (1, 32, 32), 3).eval()  # z = mean: the same terms at every step
    loss_f = make().train()
    x = torch.rand(6, 1, 32, 32)
    for step in range(1, 16):
        loss, logs = loss_f(model, x)
        weight = min(step / 10, 1.0)
        assert float(loss.detach()) == pytest.approx(float(expected(logs, weight)), rel=1e-5, abs=1e-4), step
        loss_f.after_step()
    loss_f.eval()
    loss, logs = loss_f(model, x)
    assert float(loss.detach()) == pytest.approx(float(expected(logs, 1.0)), rel=1e-5, abs=1e-4)
