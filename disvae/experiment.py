"""One run of main.py: train a model into results/<name>/ (or continue it), then evaluate
it; or only evaluate a trained one. The command line (main.py) parses the typed flags
and calls `run`; everything else is here.

Flow of a training run (rank 0 writes; under torchrun every process trains its shard):
lock results/.<name>.lock -> refuse or archive an existing folder -> build the dataset,
model (channels-last on the CPU), loss and loader -> restore the newest checkpoint on
--resume -> specs.json -> train -> training.gif -> test losses (the test split where the
dataset has one) and, with --is-metrics, metrics.log -> specs.json marked done.
"""
import argparse
import contextlib
import logging
import os
import time

import torch

from disvae.config import all_options, flag_names, run_parameters
from disvae.datasets import BatchLoader, load_dataset_of_run
from disvae.distributed import barrier, init_from_env, shutdown
from disvae.errors import DisvaeError
from disvae.evaluate import compute_test_losses, metric_curve_row, write_metrics
from disvae.frames import decompress_frame, training_frame, write_training_gif
from disvae.io import atomic_write_json
from disvae.losses import get_loss_f
from disvae.modelio import load_checkpoint, load_model
from disvae.models import build_model
from disvae.optim import adam
from disvae.options import check_value
from disvae.phases import keep, phase
from disvae.results import (check_results_dir, check_same_rendering, name_run, prepare_results_dir,
                            read_checkpoint_pointer, read_specs, rendering_note, run_dir, run_lock, specs_of,
                            write_metric_curve_row, write_specs)
from disvae.runtime import (configure_backends, cpu_has_native_bf16, default_threads, get_device, set_seed,
                            training_dtype)
from disvae.tensorboard import TensorBoardLog, summary_writer_class
from disvae.training import NonFiniteLoss, Plan, Trainer, TrainingInterrupted

# evaluation flags: typed ones apply to an earlier run (--is-eval-only, --resume)
EVAL_KEYS = ("is_metrics", "metrics", "metrics_samples", "recompute_metrics", "no_test", "eval_batchsize")
# flags that apply when typed with --resume (the rest of a run's parameters are fixed)
RESUME_KEYS = ("epochs", "max_steps", "max_minutes", "no_progress_bar", "log_level", "checkpoint_steps",
               "checkpoint_every", "checkpoint_minutes", "no_cuda", "device", "threads", "log_every", "compile",
               "tensorboard", "metrics_every") + EVAL_KEYS


def parameters(typed):
    """The parameters of the run the typed flags ask for: a new run (defaults < ini <
    typed), or with --resume the run in results/<name>/ with the typed flags that apply."""
    if typed.get("resume"):
        return resume_parameters(typed)
    return name_run(run_parameters(typed))


def train_run(name, experiment="custom", logger=None, **options):
    """Train the run results/<name>/ from Python, as `python main.py NAME -x EXPERIMENT
    --OPTION VALUE ...` would: `options` by their parameter names (max_steps=200,
    betaH_B=2.0, is_metrics=True; resume=True continues the run), each checked by the
    rules of its flag. Returns the exit status (0; 130 interrupted; 3 non-finite loss)."""
    declared = all_options()
    unknown = sorted(set(options) - set(declared))
    if unknown:
        raise DisvaeError(f"no option {', '.join(unknown)} (the parameter names of `python main.py -h`)")
    try:
        typed = {key: check_value(declared[key], value, "train_run") for key, value in options.items()}
    except ValueError as err:
        raise DisvaeError(str(err)) from None
    typed["name"] = name
    if experiment != "custom":
        typed["experiment"] = experiment
    return run(parameters(typed), logger or logging.getLogger("disvae"))


def resume_parameters(typed):
    """Parameters of an existing run from its specs.json (typed budget, logging and
    evaluation flags win; any other typed flag is an error)."""
    name = typed.get("name")
    if name is None:
        raise DisvaeError("--resume needs the name of the run to continue: `python main.py NAME --resume`")
    save_dir = run_dir(name)
    specs = read_specs(save_dir)
    check_same_rendering(specs, save_dir)
    params = argparse.Namespace(**specs["args"])
    fixed = [key for key in typed if key not in RESUME_KEYS + ("name", "resume")]
    if fixed:
        raise DisvaeError(f"{flag_names(fixed)} cannot change with --resume: the run keeps the parameters of its "
                          f"specs.json (typed with --resume, only these apply: {flag_names(RESUME_KEYS)})")
    if specs.get("status") == "done":
        extends = typed.get("epochs", 0) > params.epochs or "max_minutes" in typed \
            or typed.get("max_steps", 0) > (specs.get("global_step") or 0)
        if not extends:
            raise DisvaeError(f"{save_dir} is finished (step {specs.get('global_step')}); extend it with a larger "
                              "--epochs or --max-steps, or a new --max-minutes budget")
    for key in RESUME_KEYS:
        if key in typed:
            setattr(params, key, typed[key])
    params.name = name  # the folder named on the command line, even if it was copied or renamed
    params.resume, params.is_eval_only, params.archive = True, False, False
    params.typed, params.shipped_note = sorted(typed), None
    return params


def make_loader(params, dataset, loss_f, batch_size, shuffle, rank=0, world_size=1, seed=0, drop_last=False):
    """Batches for `loss_f`: the views it declares, at least its min_batch per batch."""
    return BatchLoader(dataset, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed,
                       view_sampling=loss_f.view_sampling, rec_dist=params.rec_dist, pixel_std=loss_f.pixel_std,
                       rank=rank, world_size=world_size, min_batch=loss_f.min_batch, **loss_f.view_options)


def build_loss(params, dataset):
    pixel_std = dataset.channel_std() if params.rec_dist == "mse" else None
    return get_loss_f(params.loss, params, n_data=len(dataset), latent_dim=params.latent_dim, pixel_std=pixel_std)


def run(params, logger):
    """Train and/or evaluate as `params` say; returns the exit status (0, 130 interrupted,
    3 non-finite loss)."""
    if params.shipped_note:
        logger.info(params.shipped_note)
    if params.tensorboard and not params.is_eval_only:
        summary_writer_class()  # not installed: one line before anything is written
    torch.set_num_threads(params.threads or default_threads())
    set_seed(params.seed)
    device = get_device(params.no_cuda, params.device)
    configure_backends(device, params.deterministic)
    rank, world_size, device = init_from_env(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        # rank 0 holds results/.<name>.lock, so that no other run uses the folder meanwhile
        save_dir = run_dir(params.name)
        with run_lock(save_dir) if rank == 0 else contextlib.nullcontext():
            check_results_dir(params, save_dir)
            if rank == 0:
                prepare_results_dir(params, save_dir, logger)
            barrier()
            if params.is_eval_only:
                return evaluate_trained(params, save_dir, device, logger)
            return train(params, save_dir, device, rank, world_size, logger)
    finally:
        shutdown()


def evaluate_trained(params, save_dir, device, logger):
    """--is-eval-only: the trained model's test losses and metrics, with its own parameters
    and the evaluation flags typed now."""
    model, specs = load_model(save_dir, device=device)
    if rendering_note(specs):
        logger.warning(rendering_note(specs))
    saved = argparse.Namespace(**specs["args"])
    for key in EVAL_KEYS + ("no_progress_bar", "log_level"):
        setattr(saved, key, getattr(params, key))
    dataset = load_dataset_of_run(specs["args"], device)
    evaluate(saved, model, dataset, build_loss(saved, dataset).to(device), save_dir, device, logger)
    return 0


def train(params, save_dir, device, rank, world_size, logger):
    """Train (or resume) the run, then its training GIF, test losses and metrics; returns
    the exit status (0; 130 interrupted; 3 non-finite loss)."""
    is_main = rank == 0
    dataset = load_dataset_of_run(vars(params), device)
    trainer = build_trainer(params, dataset, save_dir, device, rank, world_size, logger)
    if params.resume:
        latest = read_checkpoint_pointer(save_dir)
        if latest is None:
            raise DisvaeError(f"{save_dir} has no checkpoint to resume from")
        trainer.load_state_dict(load_checkpoint(os.path.join(save_dir, latest)))
        logger.info("resuming %s from %s (epoch %d, step %d)", params.name, latest, trainer.epoch,
                    trainer.global_step)
    if is_main:
        write_specs(save_dir, specs_of(params, dataset))
    logger.info("training %s: %s on %s, %d images, device %s, %d process(es)", params.name, params.loss,
                params.dataset, len(dataset), device, world_size)
    try:
        trainer.train(params.epochs)
    except TrainingInterrupted as stop:
        logger.error("interrupted: saved %s; continue with `python main.py %s --resume`", stop.path, params.name)
        return 130
    except NonFiniteLoss as err:
        logger.error("stopped: %s", err)
        return 3
    finally:
        if trainer.logs.observer is not None:
            trainer.logs.observer.close()
    if is_main:
        write_training_gif(trainer.frames, os.path.join(save_dir, "training.gif"))
        trainer.model.eval()
        evaluate(params, trainer.model, dataset, trainer.loss_f, save_dir, device, logger)
        write_specs(save_dir, specs_of(params, dataset, trainer.global_step, status="done"))
        logger.info("results in %s", save_dir)
    return 0


def planned_steps(epochs, batches_per_epoch, max_steps):
    """The training steps a run plans: its epochs, cut at --max-steps (0/None: no cut); the length
    of the schedules that run over the whole run (Ada-TVAE's)."""
    return min(epochs * batches_per_epoch, max_steps or float("inf"))


def build_trainer(params, dataset, save_dir, device, rank, world_size, logger):
    """The model, loss, loader, optimiser and arithmetic of a run, in a Trainer with its plan."""
    model = build_model(params.model_type, dataset.img_size, params.latent_dim).to(device)
    if device.type == "cpu":
        model.use_channels_last()
    seed = params.seed if params.seed is not None else int(torch.seed() % 2**31)
    loss_f = build_loss(params, dataset).to(device)
    loader = make_loader(params, dataset, loss_f, params.batch_size, shuffle=True, rank=rank, world_size=world_size,
                         seed=seed, drop_last=world_size > 1)
    loss_f.set_total_steps(planned_steps(params.epochs, len(loader), params.max_steps))
    train_model = model
    if world_size > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if params.compile:
        logger.info("compiling the model (torch.compile): the first steps wait for the compiler")
        train_model = torch.compile(train_model)
    dtype = training_dtype(params.precision, device)
    logger.info("training arithmetic: %s (--precision %s)", "bfloat16 autocast" if dtype else "float32",
                params.precision)
    if dtype is torch.bfloat16 and device.type == "cpu" and not cpu_has_native_bf16():
        logger.warning("this CPU has no native bfloat16 (AVX-512 BF16 or AMX): bf16 is emulated and "
                       "several times slower than float32 here (--precision auto picks float32)")
    observer = TensorBoardLog(os.path.join(save_dir, "tensorboard"), decompress_frame) \
        if params.tensorboard and rank == 0 else None
    plan = Plan(max_steps=params.max_steps, max_seconds=60 * params.max_minutes if params.max_minutes else None,
                checkpoint_every=params.checkpoint_every, checkpoint_steps=params.checkpoint_steps,
                checkpoint_seconds=60 * params.checkpoint_minutes, log_every=params.log_every)
    return Trainer(model, adam(model.parameters(), lr=params.lr), loss_f, loader, save_dir, device, plan,
                   train_model=train_model, autocast_dtype=dtype, frame_fn=training_frame, observer=observer,
                   progress_bar=not params.no_progress_bar, is_main=rank == 0, logger=logger,
                   epoch_fn=metric_curve(params, dataset, save_dir, device, logger))


def metric_curve(params, dataset, save_dir, device, logger):
    """--metrics-every n: the epoch hook that adds the --metrics families of every n-th
    epoch's weights to metrics_curve.csv (None without it)."""
    if not params.metrics_every:
        return None
    if not dataset.has_factors:
        raise DisvaeError(f"--metrics-every needs a ground-truth dataset; {params.dataset} has no factors")

    def record(model, epoch, step, seconds):
        if epoch % params.metrics_every:
            return
        start = time.perf_counter()
        with phase(f"computing the metric curve at epoch {epoch}"):
            row = metric_curve_row(model, dataset, params.metrics, device, params.eval_batchsize,
                                   seed=params.seed or 0, n_samples=params.metrics_samples)
        row.update(epoch=epoch, step=step, wall_time_s=round(seconds, 3),
                   metric_seconds=round(time.perf_counter() - start, 3))
        write_metric_curve_row(save_dir, row)
        logger.info("metric curve, epoch %d: %s", epoch, ", ".join(
            f"{key} {row[key]:.3f}" for key in ("mig_chen_no_shape", "mig_sampled", "mig_histogram") if key in row))
    return record


def evaluate(params, model, dataset, loss_f, save_dir, device, logger):
    """test_losses.log (every logged term over the whole test split, or the training
    images for datasets without one) and, with --is-metrics, metrics.log."""
    if params.is_metrics and not dataset.has_factors:
        raise DisvaeError(f"--is-metrics needs a ground-truth dataset; {params.dataset} has no factors")
    progress = not params.no_progress_bar
    if not params.no_test:
        test_set = load_dataset_of_run(vars(params), device, split="test") if "test" in dataset.splits else dataset
        loader = make_loader(params, test_set, loss_f, params.eval_batchsize, shuffle=False, seed=params.seed or 0)
        split = "test split" if test_set is not dataset else "training images (the dataset has no test split)"
        logger.info("test losses over %d images of the %s", len(test_set), split)
        with phase("computing test losses"):
            losses = compute_test_losses(model, loss_f, loader, device, progress=progress)
        atomic_write_json(os.path.join(save_dir, "test_losses.log"), losses)
        keep("test_losses.log", "test_losses.log")
        logger.info("test losses: loss %.4f", losses["loss"])
    if params.is_metrics:
        write_metrics(model, dataset, save_dir, device, params.metrics, params.eval_batchsize,
                      seed=params.seed or 0, logger=logger, n_samples=params.metrics_samples,
                      recompute=params.recompute_metrics, progress=progress)
