"""Ada-TVAE: shared mask, reductions to the plain triplet loss, margins, gradients."""
import pytest
import torch

from disvae.losses.adatvae import AdaTVAELoss, shared_mask, triplet_loss
from disvae.models import build_model


def test_shared_mask_hand_computed():
    mean_u = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    mean_v = torch.tensor([[0.1, 2.0, 0.4, 1.0]])
    zeros = torch.zeros(1, 4)
    # delta = [0.1, 2.0, 0.4, 1.0]; t = 0.1 + 0.5 * 1.9 = 1.05 -> shared: 0.1, 0.4, 1.0
    mask = shared_mask((mean_u, zeros), (mean_v, zeros), ratio=0.5, mode="dist")
    assert mask.tolist() == [[True, False, True, True]]
    # r = 0.2: t = 0.1 + 0.38 = 0.48 -> 0.1 and 0.4 shared
    assert shared_mask((mean_u, zeros), (mean_v, zeros), 0.2).tolist() == [[True, False, True, False]]
    # kl with unit variances: KL_j = delta_j^2 / 2 -> [0.005, 2, 0.08, 0.5]; t = 0.005 + 0.5*1.995 = 1.0025
    assert shared_mask((mean_u, zeros), (mean_v, zeros), 0.5, "kl").tolist() == [[True, False, True, True]]


def test_triplet_loss_zero_when_margin_met_and_hand_value_otherwise():
    d_pos = torch.tensor([[1.0, 0.0]])
    d_neg = torch.tensor([[5.0, 1.0]])  # L1 norms 1 and 6
    assert triplet_loss(d_pos, d_neg, margin=4.0, p=1).item() == 0.0
    assert triplet_loss(d_pos, d_neg, margin=10.0, p=1).item() == pytest.approx(5.0)
    assert triplet_loss(d_pos, d_neg, soft=True).item() == pytest.approx(torch.log1p(torch.exp(torch.tensor(-5.0))).item())


def make_batch(seed=0):
    torch.manual_seed(seed)
    return torch.rand(6, 3, 1, 32, 32)


def test_share_scale_one_is_the_plain_triplet_loss():
    model = build_model("Burgess", (1, 32, 32), 5).eval()
    loss_f = AdaTVAELoss(share_scale=1.0, schedule="none").eval()
    _, logs = loss_f(model, make_batch())
    assert torch.allclose(logs["ada_triplet_loss"], logs["triplet_loss"])


def test_ada_loss_formula_against_direct_computation():
    torch.manual_seed(1)
    model = build_model("Burgess", (1, 32, 32), 5).eval()
    loss_f = AdaTVAELoss(beta=0.5, triplet_margin=10.0, triplet_scale=2.0, share_scale=0.25, schedule="none").eval()
    x = make_batch(1)
    loss, logs = loss_f(model, x)
    with torch.no_grad():
        mean, logvar = model.encoder(x.flatten(0, 1))
        za, zp, zn = mean.view(6, 3, 5).unbind(1)
        delta = (za - zn).abs()
        low, high = delta.min(1, keepdim=True).values, delta.max(1, keepdim=True).values
        shared = delta < low + 0.5 * (high - low)
        d_neg = torch.where(shared, 0.25 * (za - zn), za - zn)
        expected_triplet = torch.relu((za - zp).abs().sum(1) - d_neg.abs().sum(1) + 10.0).mean()
        expected = logs["recon_loss"] / 1024 + 0.5 * logs["kl_loss"] / 5 + 2.0 * expected_triplet
    assert torch.allclose(logs["ada_triplet_loss"], expected_triplet, atol=1e-5)
    assert torch.allclose(loss, expected, atol=1e-5)
    assert logs["shared_dims_an"].item() == pytest.approx(shared.sum(1).float().mean().item())


def test_schedule_moves_share_scale_linearly():
    loss_f = AdaTVAELoss(share_scale=0.5, schedule="up_ratio", schedule_steps=10)
    model = build_model("Burgess", (1, 32, 32), 3)
    scales = [float(loss_f(model, make_batch())[1]["share_scale"]) for _ in range(10)]
    assert scales[0] == pytest.approx(0.95) and scales[4] == pytest.approx(0.75) and scales[-1] == pytest.approx(0.5)
    restored = AdaTVAELoss(share_scale=0.5, schedule="up_ratio", schedule_steps=10)
    restored.load_state_dict(loss_f.state_dict())
    assert restored.current_share_scale() == pytest.approx(0.5)
    full = AdaTVAELoss(schedule="up_all", thresh_ratio=0.5, schedule_steps=4)
    full.n_train_steps = 2
    assert full.current_thresh_ratio() == pytest.approx(0.25)


def encoder_grad(**weights):
    torch.manual_seed(2)
    model = build_model("Burgess", (1, 32, 32), 4).eval()  # eval: z = mean, deterministic
    loss_f = AdaTVAELoss(triplet_margin=100.0, schedule="none", **weights).eval()
    loss, _ = loss_f(model, make_batch(3))
    loss.backward()
    return model.encoder.convs[0].weight.grad.clone()


def test_gradients_reach_the_encoder_from_every_term():
    recon_only = encoder_grad(beta=0.0, triplet_scale=0.0)
    assert recon_only.abs().sum() > 0
    with_kl = encoder_grad(beta=1.0, triplet_scale=0.0)
    with_triplet = encoder_grad(beta=0.0, triplet_scale=1.0)
    assert (with_kl - recon_only).abs().sum() > 0
    assert (with_triplet - recon_only).abs().sum() > 0


class ImagesElsewhere:
    """A dataset whose images live on another device than the loader's generator (the
    "meta" device stands in for a GPU on a CPU-only machine: mixing it with a CPU tensor
    raises as CUDA does)."""
    has_factors, img_size = False, (1, 8, 8)

    def __len__(self):
        return 100

    def get_batch(self, indices):
        return torch.empty(len(indices), 1, 8, 8, device="meta")


@pytest.mark.parametrize("swap_chance", [0.0, 0.3])
def test_unsupervised_triplets_with_swaps_stay_on_the_images_device(swap_chance):
    from disvae.datasets import BatchLoader
    loader = BatchLoader(ImagesElsewhere(), 10, view_sampling="triplet_unsupervised", swap_chance=swap_chance)
    batch = next(iter(loader))
    assert batch.shape == (10, 3, 1, 8, 8) and batch.device.type == "meta"
