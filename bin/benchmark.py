#!/usr/bin/env python
"""Throughput benchmark: training images/s per loss (steady state, the Trainer's own
step, next to the bare forward+backward loop of the same model and their ratio), data
time per batch per dataset, evaluation (encoding) images/s, peak RSS.

    python bin/benchmark.py [--losses betaB btcvae] [--batch-size 64] [--steps 60] [--precision bf16]
                            [--contiguous] [--device cuda]
    python bin/benchmark.py --metrics-of btcvae_dsprites     # every metric on full dSprites, timed

It applies main.py's allocator setting itself (utils/allocator.py), so GLIBC_TUNABLES
makes no difference to either.
"""
import _repo  # noqa: F401  (puts the repository root on sys.path)
from utils.allocator import tune_allocator

tune_allocator()  # as main.py does, before torch allocates

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from disvae.config import run_parameters  # noqa: E402
from disvae.datasets import DATASETS, PROCEDURAL, load_dataset, load_dataset_of_run  # noqa: E402
from disvae.experiment import build_loss, make_loader  # noqa: E402
from disvae.losses import LOSSES  # noqa: E402
from disvae.metrics import METRICS, ModelRepresentation, compute_metrics, family_rng  # noqa: E402
from disvae.modelio import load_model  # noqa: E402
from disvae.models import build_model  # noqa: E402
from disvae.optim import adam  # noqa: E402
from disvae.results import run_dir  # noqa: E402
from disvae.training import Trainer  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_training(loss_name, args, device):
    """Steady-state images/s of the Trainer's step (batches rendered by the loader, logs
    summed, after-step work) and of the bare loop on the same model: pre-rendered batches,
    the loss's forward, backward and optimiser steps only. Median of `args.rounds`
    alternating rounds of `args.steps` steps each."""
    run_args = run_parameters({"dataset": args.dataset, "loss": loss_name, "batch_size": args.batch_size})
    dataset = load_dataset(args.dataset, device=device)
    model = build_model("Burgess", dataset.img_size, run_args.latent_dim).to(device)
    if device.type == "cpu" and not args.contiguous:
        model.use_channels_last()
    loss_f = build_loss(run_args, dataset).to(device)
    loss_f.set_total_steps(10**6)
    loader = make_loader(run_args, dataset, loss_f, args.batch_size, shuffle=True, seed=0)
    optimizer = adam(model.parameters(), lr=run_args.lr)
    dtype = torch.bfloat16 if args.precision == "bf16" else None
    trainer = Trainer(model, optimizer, loss_f, loader, save_dir=None, device=device, progress_bar=False,
                      is_main=False, autocast_dtype=dtype)
    batches = loader.batches(loader.epoch_order())
    rendered = [next(batches).to(device) for _ in range(16)]
    model.train()
    loss_f.train()

    def bare_step(x):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss, _ = loss_f(model, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_f.after_step()

    def timed(step, next_batch):
        sync(device)
        start = time.perf_counter()
        for i in range(args.steps):
            step(next_batch(i))
        trainer.check_finite()
        sync(device)
        return time.perf_counter() - start

    for i in range(args.warmup):
        trainer.train_step(next(batches).to(device))
        bare_step(rendered[i % len(rendered)])
    trainer_s, bare_s = [], []
    for _ in range(args.rounds):
        trainer_s.append(timed(trainer.train_step, lambda i: next(batches).to(device)))
        bare_s.append(timed(bare_step, lambda i: rendered[i % len(rendered)]))
    images = args.steps * args.batch_size
    trainer_rate, bare_rate = images / float(np.median(trainer_s)), images / float(np.median(bare_s))
    return trainer_rate, bare_rate, float(np.median(trainer_s)) / args.steps


@torch.no_grad()
def bench_eval(args, device):
    dataset = load_dataset(args.dataset, device=device)
    model = build_model("Burgess", dataset.img_size, 10).to(device).eval()
    representation = ModelRepresentation(model, dataset, device, batch_size=1000)  # the metrics' encoder
    start = time.perf_counter()
    representation(np.arange(20 * 1000))
    sync(device)
    return representation.n_encoded / (time.perf_counter() - start)


def bench_metrics(name, device):
    """Every metric family at its standard sample counts on the model of results/<name>/
    (nothing is written): (seconds per family, images encoded, total seconds)."""
    model, specs = load_model(run_dir(name), device=device)
    dataset = load_dataset_of_run(specs["args"], device)
    representation = ModelRepresentation(model, dataset, device)
    start, seconds = time.perf_counter(), {}
    for family in METRICS:
        seconds.update(compute_metrics(representation, dataset, family_rng(0, family), [family])["seconds"])
        print(f"  {family:<10}{seconds[family]:>8.1f} s   (images encoded so far: {representation.n_encoded:,})",
              flush=True)
    return seconds, representation.n_encoded, time.perf_counter() - start


def bench_data(name, batch_size, device, n=200):
    dataset = load_dataset(name, device=device, **DATASETS[name].offline_options)
    generator = torch.Generator().manual_seed(0)
    dataset.get_batch(torch.randint(0, len(dataset), (batch_size,), generator=generator))
    sync(device)
    start = time.perf_counter()
    for _ in range(n):
        dataset.get_batch(torch.randint(0, len(dataset), (batch_size,), generator=generator))
    sync(device)
    return (time.perf_counter() - start) / n


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--losses", nargs="+", default=[l for l in LOSSES], choices=LOSSES)
    parser.add_argument("--dataset", default="dsprites", choices=PROCEDURAL)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds (the median is reported)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="training arithmetic (as main.py --precision)")
    parser.add_argument("--contiguous", action="store_true",
                        help="train in the default NCHW layout instead of channels-last (CPU), to compare")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--metrics-of", metavar="NAME", default=None,
                        help="only time every metric family on the model of results/NAME/ (standard counts)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.metrics_of:
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}, "
              f"metrics of results/{args.metrics_of}/ at the standard sample counts")
        seconds, n_encoded, total = bench_metrics(args.metrics_of, device)
        print(f"all metrics: {total:.0f} s ({total / 60:.1f} min), {n_encoded:,} images encoded; "
              f"peak RSS {peak_rss_mb():.0f} MB")
        return
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}, "
          f"batch {args.batch_size}, dataset {args.dataset}, precision {args.precision}, "
          f"layout {'NCHW' if args.contiguous or device.type != 'cpu' else 'channels-last'}")
    print(f"{'loss':<10}{'train img/s':>12}{'ms/step':>10}{'bare loop img/s':>17}{'ratio':>8}")
    step_ms = {}
    for loss_name in args.losses:
        rate, bare_rate, per_step = bench_training(loss_name, args, device)
        step_ms[loss_name] = per_step * 1000
        print(f"{loss_name:<10}{rate:>12.0f}{per_step * 1000:>10.1f}{bare_rate:>17.0f}{rate / bare_rate:>8.2f}",
              flush=True)
    reference_step = step_ms.get("betaB", next(iter(step_ms.values())))
    print(f"\n{'dataset':<17}{'ms/batch':>10}{'% of step':>11}")
    for name in PROCEDURAL:
        per_batch = bench_data(name, args.batch_size, device) * 1000
        print(f"{name:<17}{per_batch:>10.2f}{100 * per_batch / reference_step:>10.1f}%", flush=True)
    print(f"\nevaluation (encoding, batch 1000): {bench_eval(args, device):.0f} img/s")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
