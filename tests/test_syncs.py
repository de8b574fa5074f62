"""A training step never makes the host wait for the device: the recorder finds each
kind of synchronisation, and one step of every loss on every procedural dataset, run on
"meta" tensors (device code without a GPU), has none; on a GPU the same on CUDA."""
import pytest
import torch

from disvae.config import run_parameters
from disvae.datasets import PROCEDURAL, load_dataset_of_run
from disvae.experiment import build_loss, make_loader
from disvae.losses import LOSSES
from disvae.models import build_model
from disvae.optim import adam
from disvae.syncs import HostSyncRecorder
from disvae.training import Plan, Trainer
from disvae.trainlogs import RunningSums

SYNCS = {
    "item": lambda t: t.sum().item(),
    "float": lambda t: float(t.sum()),
    "bool": lambda t: bool(t.sum() > 0),
    "nonzero": lambda t: t.nonzero(),
    "mask": lambda t: t[t > 0],
    "cpu": lambda t: t.cpu(),
    "to cpu": lambda t: t.to("cpu"),
    "blocking copy in": lambda t: torch.ones(3).to(t.device),
    "new_tensor": lambda t: t.new_tensor(2.0),
    "tensor": lambda t: torch.tensor([1.0, 2.0], device=t.device),
}
NOT_SYNCS = {
    "arithmetic": lambda t: (t * 2.0 + 1).exp().sum(),
    "new_full": lambda t: t.new_full((), 2.0),
    "non-blocking copy in": lambda t: torch.ones(3).to(t.device, non_blocking=True),
    "where": lambda t: torch.where(t > 0, t, 0.0),
    "cpu tensors": lambda t: torch.tensor([1, 2]).sum().item(),
}


@pytest.mark.parametrize("kind", SYNCS)
def test_the_recorder_sees_every_kind_of_sync(kind):
    x = torch.ones(4, device="meta")
    with HostSyncRecorder("meta") as syncs:
        try:
            SYNCS[kind](x)
        except (RuntimeError, NotImplementedError):  # meta tensors have no values to read back
            pass
    assert syncs.events, kind


@pytest.mark.parametrize("kind", NOT_SYNCS)
def test_the_recorder_lets_device_work_and_cpu_work_pass(kind):
    with HostSyncRecorder("meta") as syncs:
        NOT_SYNCS[kind](torch.ones(4, device="meta"))
    assert not syncs.events, syncs.summary()


def trainer_on(device, loss, dataset_name, **extra):
    options = {"mask_root": "noise"} if dataset_name == "dsprites_masked" else {}
    params = run_parameters({"name": "sync", "loss": loss, "dataset": dataset_name, "batch_size": 8,
                             "latent_dim": 4, **options, **extra})
    dataset = load_dataset_of_run(vars(params), device)
    model = build_model(params.model_type, dataset.img_size, params.latent_dim).to(device)
    loss_f = build_loss(params, dataset).to(device)
    loader = make_loader(params, dataset, loss_f, params.batch_size, shuffle=True, seed=0)
    loss_f.set_total_steps(100)
    trainer = Trainer(model, adam(model.parameters(), lr=1e-3), loss_f, loader, None, device,
                      Plan(checkpoint_seconds=0), progress_bar=False)
    return trainer, loader.batches(loader.epoch_order())


def syncs_of_steps(device, loss, dataset_name, steps=3, **extra):
    """The host syncs of `steps` training steps (batch production included) after a
    first one (which copies the datasets' constants to the device once)."""
    trainer, batches = trainer_on(device, loss, dataset_name, **extra)
    trainer.train_step(next(batches))
    with HostSyncRecorder(torch.device(device).type) as syncs:
        for _ in range(steps):
            trainer.train_step(next(batches))
    return syncs.summary()


@pytest.mark.parametrize("dataset_name", PROCEDURAL)
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_a_training_step_never_waits_on_the_device(loss, dataset_name):
    assert syncs_of_steps("meta", loss, dataset_name) == []


def test_unsupervised_triplets_with_swaps_never_wait_on_the_device():
    assert syncs_of_steps("meta", "adatvae", "dsprites", adatvae_unsupervised=True, triplet_swap_chance=0.3) == []


@pytest.mark.cuda
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_a_cuda_training_step_never_waits_on_the_gpu(loss):
    assert syncs_of_steps("cuda", loss, "dsprites") == []


def test_running_sums_are_the_means_of_the_steps():
    steps = [{"loss": torch.tensor(1.5), "kl": torch.tensor(0.25)},
             {"loss": torch.tensor(2.5), "kl": torch.tensor(0.75), "tc": torch.tensor(3.0)},
             {"loss": torch.tensor(-1.0), "tc": torch.tensor(1.0), "kl": torch.tensor(2.0)}]
    sums = RunningSums()
    for logs in steps:
        sums.add(logs)
    # a term missing from a step counts 0 there (the mean is over all steps)
    expected = {name: sum(float(s.get(name, 0.0)) for s in steps) / 3 for name in ("loss", "kl", "tc")}
    assert sums.means() == pytest.approx(expected, abs=1e-7)
    again = RunningSums.from_state(sums.state_dict(), sums.count, "cpu")
    assert again.means() == sums.means()
