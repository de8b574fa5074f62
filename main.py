"""Train and/or evaluate a disentangled VAE.

    python main.py -x betaB_dsprites                  # predefined experiment -> results/betaB_dsprites/
                                                      #   (results/my_betaB_dsprites/ beside a shipped model)
    python main.py NAME -d dsprites -l btcvae -e 5    # custom run -> results/NAME/
    python main.py NAME --resume                      # continue an interrupted run
    python main.py NAME --is-eval-only --is-metrics   # evaluate a trained model
"""
from utils.allocator import tune_allocator

tune_allocator()  # before torch allocates anything: ~40% faster training steps on glibc systems

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

from disvae import __version__
from disvae.distributed import barrier, init_from_env, shutdown
from disvae.losses import LOSSES, MIN_BATCH, REC_DISTS, get_loss_f
from disvae.losses.adatvae import SCHEDULES, THRESH_MODES, TRIPLET_LOSSES
from disvae.metrics import METRICS
from disvae.modelio import load_checkpoint, load_model, load_specs, read_checkpoint_pointer, save_specs
from disvae.models import MODELS, build_model
from disvae.optim import adam
from disvae.training import NonFiniteLoss, Trainer, TrainingInterrupted
from utils.cli import (CLIError, OneLineParser, cpu_has_native_bf16, default_threads, get_device, keep,
                       non_negative, phase, positive, run_cli, run_lock, run_name, seed_type, set_seed, setup_logger,
                       training_dtype, unit_interval)
from utils.config import experiment_names, experiment_values, read_config
from utils.datasets import DATASETS, MASK_MODES, TRIPLET_MODES, BatchLoader, load_dataset_of_run

RES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
LOG_LEVELS = ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET"]
INI_RENAMES = {"model": "model_type"}  # ini key -> argparse dest
INI_KEYS = {dest: key for key, dest in INI_RENAMES.items()}
PRECISIONS = ("auto", "fp32", "bf16")
MASK_DEFAULTS = dict(mask_mode="bg", mask_strength=1.0, mask_root=None)
NOT_SAVED = ("typed", "shipped_note")  # parse-time notes, not run parameters
SHIPPED_MARK = "PRETRAINED.md"  # in the results folders shipped with the toolkit
# evaluation flags: typed ones apply to old runs (--is-eval-only, --resume)
EVAL_KEYS = ("is_metrics", "metrics", "metrics_samples", "recompute_metrics", "no_test", "eval_batchsize")


def build_parser(defaults, experiments):
    """The CLI; `defaults` maps dest -> default (argparse.SUPPRESS to detect typed flags)."""
    def d(key):
        return defaults.get(key, argparse.SUPPRESS) if defaults is not None else argparse.SUPPRESS

    parser = OneLineParser(description="Train and evaluate disentangled VAEs (disvae).",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    general = parser.add_argument_group("General options")
    general.add_argument("name", nargs="?", type=run_name, default=d("name"),
                         help="Name of the results folder results/<name>/ (default: the experiment name, "
                              "or <loss>_<dataset> for custom runs).")
    general.add_argument("-L", "--log-level", type=str.upper, choices=LOG_LEVELS, default=d("log_level"),
                         help="Logging level.")
    general.add_argument("--no-progress-bar", action="store_true", default=d("no_progress_bar"),
                         help="Disables progress bar.")
    general.add_argument("--no-cuda", action="store_true", default=d("no_cuda"),
                         help="Disables CUDA training, even when have one.")
    general.add_argument("--threads", type=positive(int), default=d("threads"),
                         help="CPU threads of PyTorch (default: $OMP_NUM_THREADS, else the cores this process "
                              "may use; bin/*.sh -j N gives each job its share).")
    general.add_argument("-s", "--seed", type=seed_type, default=d("seed"),
                         help="Random seed. Can be `None` for stochastic behavior.")

    training = parser.add_argument_group("Training specific options")
    training.add_argument("--checkpoint-every", type=non_negative(int), default=d("checkpoint_every"),
                          help="Save a checkpoint of the trained model every n epoch (0: never).")
    training.add_argument("--checkpoint-steps", type=non_negative(int), default=d("checkpoint_steps"),
                          help="Also save a resumable checkpoint every n optimiser steps (0: never).")
    training.add_argument("--checkpoint-minutes", type=non_negative(float), default=d("checkpoint_minutes"),
                          help="Also save a resumable checkpoint every m minutes of training (0: never); the end of "
                               "training and SIGINT/SIGTERM always save one.")
    training.add_argument("-d", "--dataset", choices=list(DATASETS), default=d("dataset"),
                          help="Training dataset.")
    training.add_argument("--data-root", default=d("data_root"),
                          help="Folder of the dataset's files (default: data/<dataset>/).")
    training.add_argument("--channels", type=int, choices=[1, 3], default=d("channels"),
                          help="Channels of `imagefolder` images (default: inferred).")
    training.add_argument("--xysquares-spacing", type=positive(int), default=d("xysquares_spacing"),
                          help="Grid spacing of xysquares (< 8 makes squares overlap).")
    add_mask_options(training, d)
    training.add_argument("-x", "--experiment", choices=experiments, default=d("experiment"),
                          help="Predefined experiment of hyperparam.ini; sets the other arguments "
                               "unless they are typed.")
    training.add_argument("-e", "--epochs", type=positive(int), default=d("epochs"),
                          help="Maximum number of epochs to run for.")
    training.add_argument("--max-steps", type=positive(int), default=d("max_steps"),
                          help="Stop after this many optimiser steps.")
    training.add_argument("--max-minutes", type=positive(float), default=d("max_minutes"),
                          help="Stop training after this many minutes of wall time (per invocation).")
    training.add_argument("-b", "--batch-size", type=positive(int), default=d("batch_size"),
                          help="Batch size for training.")
    training.add_argument("--lr", type=positive(float), default=d("lr"), help="Learning rate.")
    training.add_argument("--log-every", type=non_negative(int), default=d("log_every"),
                          help="Write a row of train_steps.csv (mean of every logged term) every n steps (0: never).")
    training.add_argument("--resume", action="store_true", default=d("resume"),
                          help="Continue results/<name>/ from its newest checkpoint with its specs.json.")
    training.add_argument("--archive", action="store_true", default=d("archive"),
                          help="If results/<name>/ exists, move it to results/<name>.<time>/ first.")
    training.add_argument("--precision", choices=PRECISIONS, default=d("precision"),
                          help="Training arithmetic: fp32, bf16 (bfloat16 autocast: faster on CPUs with AVX-512 "
                               "BF16/AMX and on GPUs), or auto (bf16 where it is native, else fp32). "
                               "Evaluation and metrics are always float32.")
    training.add_argument("--bf16", action="store_true", default=d("bf16"), help="Same as --precision bf16.")

    model = parser.add_argument_group("Model specfic options")
    model.add_argument("-m", "--model-type", choices=list(MODELS), default=d("model_type"),
                       help="Type of encoder and decoder to use.")
    model.add_argument("-z", "--latent-dim", type=positive(int), default=d("latent_dim"),
                       help="Dimension of the latent variable.")
    model.add_argument("-l", "--loss", choices=LOSSES, default=d("loss"), help="Type of VAE loss function to use.")
    model.add_argument("-r", "--rec-dist", choices=REC_DISTS, default=d("rec_dist"),
                       help="Form of the likelihood ot use for each pixel.")
    model.add_argument("-a", "--reg-anneal", type=non_negative(int), default=d("reg_anneal"),
                       help="Number of annealing steps where gradually adding the regularisation. "
                            "What is annealed is specific to each loss.")

    betah = parser.add_argument_group("BetaH specific parameters")
    betah.add_argument("--betaH-B", type=non_negative(float), default=d("betaH_B"),
                       help="Weight of the KL (beta in the paper).")
    betab = parser.add_argument_group("BetaB specific parameters")
    betab.add_argument("--betaB-initC", type=non_negative(float), default=d("betaB_initC"),
                       help="Starting annealed capacity.")
    betab.add_argument("--betaB-finC", type=non_negative(float), default=d("betaB_finC"),
                       help="Final annealed capacity.")
    betab.add_argument("--betaB-G", type=non_negative(float), default=d("betaB_G"),
                       help="Weight of the KL divergence term (gamma in the paper).")
    factor = parser.add_argument_group("factor VAE specific parameters")
    factor.add_argument("--factor-G", type=non_negative(float), default=d("factor_G"),
                        help="Weight of the TC term (gamma in the paper).")
    factor.add_argument("--lr-disc", type=positive(float), default=d("lr_disc"),
                        help="Learning rate of the discriminator.")
    btcvae = parser.add_argument_group("beta-tcvae specific parameters")
    btcvae.add_argument("--btcvae-A", type=float, default=d("btcvae_A"), help="Weight of the MI term (alpha).")
    btcvae.add_argument("--btcvae-G", type=float, default=d("btcvae_G"), help="Weight of the dim-wise KL term (gamma).")
    btcvae.add_argument("--btcvae-B", type=float, default=d("btcvae_B"), help="Weight of the TC term (beta).")
    btcvae.add_argument("--btcvae-estimator", choices=["mss", "mws"], default=d("btcvae_estimator"),
                        help="Estimator of q(z): minibatch stratified or weighted sampling.")

    dip = parser.add_argument_group("DIP-VAE specific parameters")
    dip.add_argument("--dipvaeI-lambda-od", type=non_negative(float), default=d("dipvaeI_lambda_od"),
                     help="DIP-VAE-I: weight of the off-diagonal covariance penalty (lambda_od).")
    dip.add_argument("--dipvaeI-lambda-d-factor", type=non_negative(float), default=d("dipvaeI_lambda_d_factor"),
                     help="DIP-VAE-I: weight of the diagonal penalty, as a multiple of lambda_od.")
    dip.add_argument("--dipvaeII-lambda-od", type=non_negative(float), default=d("dipvaeII_lambda_od"),
                     help="DIP-VAE-II: weight of the off-diagonal covariance penalty (lambda_od).")
    dip.add_argument("--dipvaeII-lambda-d-factor", type=non_negative(float), default=d("dipvaeII_lambda_d_factor"),
                     help="DIP-VAE-II: weight of the diagonal penalty, as a multiple of lambda_od.")

    ada = parser.add_argument_group("Ada-TVAE specific parameters")
    ada.add_argument("--adatvae-beta", type=non_negative(float), default=d("adatvae_beta"),
                     help="KL weight, mean-normalised (summed-terms beta = beta * pixels / latents).")
    ada.add_argument("--adatvae-margin", type=non_negative(float), default=d("adatvae_margin"),
                     help="Triplet margin.")
    ada.add_argument("--adatvae-p", type=positive(int), default=d("adatvae_p"), help="p of the triplet p-norm.")
    ada.add_argument("--adatvae-scale", type=non_negative(float), default=d("adatvae_scale"),
                     help="Weight of the triplet term.")
    ada.add_argument("--adatvae-triplet-loss", choices=TRIPLET_LOSSES, default=d("adatvae_triplet_loss"),
                     help="Margin triplet or soft-margin triplet.")
    ada.add_argument("--adatvae-thresh-mode", choices=THRESH_MODES, default=d("adatvae_thresh_mode"),
                     help="Per-dimension difference used by the shared-dimension threshold.")
    ada.add_argument("--adatvae-thresh-ratio", type=unit_interval, default=d("adatvae_thresh_ratio"),
                     help="Threshold ratio r in [0, 1] (0.5: Ada-GVAE).")
    ada.add_argument("--adatvae-share-scale", type=unit_interval, default=d("adatvae_share_scale"),
                     help="Scale s of the negative's difference on shared dimensions.")
    ada.add_argument("--adatvae-schedule", choices=list(SCHEDULES), default=d("adatvae_schedule"),
                     help="Linear schedule of share scale / threshold ratio over the run.")
    ada.add_argument("--adatvae-unsupervised", action="store_true", default=d("adatvae_unsupervised"),
                     help="Order triplets by raw-image distance instead of ground-truth factors.")
    ada.add_argument("--triplet-mode", choices=TRIPLET_MODES, default=d("triplet_mode"),
                     help="Ground-truth distance ordering supervised triplets.")
    ada.add_argument("--triplet-swap-chance", type=unit_interval, default=d("triplet_swap_chance"),
                     help="Chance of swapping positive and negative.")

    evaluation = parser.add_argument_group("Evaluation specific options")
    evaluation.add_argument("--is-eval-only", action="store_true", default=d("is_eval_only"),
                            help="Only evaluate the trained model `name`.")
    evaluation.add_argument("--is-metrics", action="store_true", default=d("is_metrics"),
                            help="Compute the disentanglement metrics (ground-truth datasets only).")
    evaluation.add_argument("--metrics", nargs="+", choices=list(METRICS), default=d("metrics"),
                            help="Subset of metrics (default: all).")
    evaluation.add_argument("--metrics-samples", type=positive(int), default=d("metrics_samples"),
                            help="Cap every metric at about this many points (default: the standard counts, "
                                 "e.g. 10,000); for quick checks.")
    evaluation.add_argument("--recompute-metrics", action="store_true", default=d("recompute_metrics"),
                            help="Recompute metric families already in metrics.log for the same weights and "
                                 "sample counts (default: keep them, so an interrupted evaluation resumes).")
    evaluation.add_argument("--no-test", action="store_true", default=d("no_test"),
                            help="Whether not to compute the test losses.")
    evaluation.add_argument("--eval-batchsize", type=positive(int), default=d("eval_batchsize"),
                            help="Batch size for evaluation.")
    return parser


EXTRA_DEFAULTS = dict(name=None, threads=None, checkpoint_steps=0, checkpoint_minutes=10.0, log_every=100,
                      data_root=None, channels=None, xysquares_spacing=8, **MASK_DEFAULTS, max_steps=None,
                      max_minutes=None, resume=False, archive=False, bf16=False, precision="fp32", metrics=None,
                      metrics_samples=None, recompute_metrics=False)


def add_mask_options(group, d=lambda key: MASK_DEFAULTS[key]):
    """dsprites_masked's options (main.py and main_viz.py --dataset)."""
    group.add_argument("--mask-mode", choices=MASK_MODES, default=d("mask_mode"),
                       help="dsprites_masked: texture in the sprite (fg) or in the background (bg).")
    group.add_argument("--mask-strength", type=unit_interval, default=d("mask_strength"),
                       help="dsprites_masked: texture strength in [0, 1] (0 is dSprites).")
    group.add_argument("--mask-root", default=d("mask_root"),
                       help="dsprites_masked: folder of natural images for the textures (default: "
                            "data/tiny-imagenet/), or `noise` for procedural noise (offline).")


def parse_arguments(argv):
    """Namespace of every parameter: [Custom] < commons < experiment < typed flags."""
    config = read_config()
    experiments = offered_experiments(config)
    typed_parser = build_parser(None, experiments)
    typed = vars(typed_parser.parse_args(argv))
    defaults = dict(EXTRA_DEFAULTS)
    experiment = typed.get("experiment", "custom")
    values = experiment_values(config, experiment, LOSSES, list(DATASETS))
    check_ini_values(values, experiment, parser_actions(typed_parser))
    defaults.update({INI_RENAMES.get(k, k): v for k, v in values.items()})
    defaults["experiment"] = experiment
    args = build_parser(defaults, experiments).parse_args(argv)
    args.typed = sorted(typed)
    least = MIN_BATCH.get(args.loss, 1)
    for key in ("batch_size", "eval_batchsize"):
        if getattr(args, key) < least:
            raise CLIError(f"{args.loss} estimates from the whole minibatch: --{key.replace('_', '-')} must be at "
                           f"least {least}, got {getattr(args, key)}")
    if args.loss == "VAE" and "reg_anneal" not in typed:
        args.reg_anneal = 0  # the plain ELBO: no KL annealing unless asked for
    args.shipped_note = None
    if args.name is None:
        args.name = experiment if experiment != "custom" else f"{args.loss}_{args.dataset}"
        fresh_run = not (args.resume or args.is_eval_only or args.archive)
        if fresh_run and is_shipped(os.path.join(RES_DIR, args.name)):
            # results/<experiment> holds the shipped pretrained model: train the user's own beside it
            args.shipped_note = (f"results/{args.name} holds the pretrained model shipped with disvae; "
                                 f"this run writes results/my_{args.name}")
            args.name = f"my_{args.name}"
    return args


def check_value(action, key, value, where, none_ok=False):
    """Raise a one-line CLIError unless `value` is what option `action` accepts (None
    only where `none_ok`: options whose default is None)."""
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise CLIError(f"{where}: {key} must be true or false, got {value!r}")
        return
    if value is None:
        if none_ok:
            return
        raise CLIError(f"{where}: {key} = None is not a valid value")
    values = value if action.nargs == "+" and isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, bool) or (action.type is None and not isinstance(item, str)):
            raise CLIError(f"{where}: {key} = {value!r} is not a valid value")
        try:
            parsed = action.type(str(item)) if action.type else item
        except (argparse.ArgumentTypeError, ValueError, TypeError) as err:
            raise CLIError(f"{where}: {key} = {value!r} is not valid ({err})") from None
        if action.choices is not None and parsed not in action.choices:
            raise CLIError(f"{where}: {key} = {value!r} is not one of {', '.join(map(str, action.choices))}")


def parser_actions(parser):
    return {action.dest: action for action in parser._actions if action.dest != "help"}


def option_actions():
    return parser_actions(build_parser(None, offered_experiments(read_config())))


def is_shipped(save_dir):
    """A results folder shipped with disvae (a pretrained model): never trained over."""
    return os.path.exists(os.path.join(save_dir, SHIPPED_MARK))


def check_ini_values(values, experiment, actions):
    """Every value hyperparam.ini gives `experiment`: a known key, of the option's type
    and range (argparse checks typed flags only); `actions`: the CLI's options by dest."""
    for key, value in values.items():
        dest = INI_RENAMES.get(key, key)
        if dest == "experiment":
            continue
        not_in_ini = ("name", "resume", "archive")
        if dest not in actions or dest in not_in_ini:
            known = ", ".join(sorted(k for k in actions if k not in not_in_ini))
            raise CLIError(f"hyperparam.ini: unknown key {key!r} in the sections of {experiment} (known: {known})")
        check_value(actions[dest], key, value, f"hyperparam.ini ({experiment})",
                    none_ok=dest == "seed" or (dest in EXTRA_DEFAULTS and EXTRA_DEFAULTS[dest] is None))
    missing = [k for k in actions if k not in values and INI_KEYS.get(k, k) not in values
               and k not in EXTRA_DEFAULTS and k not in ("experiment",)]
    if missing:
        raise CLIError(f"hyperparam.ini: no value for {', '.join(missing)} (add it to [Custom])")


def check_run_args(saved, path):
    """The run parameters of a specs.json, each checked against its CLI option (type,
    range, choices); parameters this version added are filled with their defaults.
    Raises a one-line CLIError on an unknown key or a bad value."""
    actions = option_actions()
    defaults = vars(parse_arguments([]))
    args = {key: defaults[key] for key in defaults if key not in NOT_SAVED}
    for key, value in saved.items():
        if key not in actions:
            raise CLIError(f"{path}: unknown parameter args.{key}")
        check_value(actions[key], f"args.{key}", value, path, none_ok=key == "seed" or defaults.get(key) is None)
        args[key] = value
    return args


def offered_experiments(config):
    """Experiments of hyperparam.ini that can run: supervised Ada-TVAE needs a dataset
    with ground-truth factors, so `adatvae_mnist` and the like are not offered."""
    names = experiment_names(config, LOSSES, list(DATASETS))
    return [name for name in names if not (name.startswith("adatvae_") and name.split("_", 1)[1] in DATASETS
                                            and not DATASETS[name.split("_", 1)[1]].has_factors)]


def check_results_dir(args, save_dir):
    """Refuse to overwrite earlier results (every process checks, so none waits on a refusal)."""
    if args.resume or args.is_eval_only or args.archive:
        return
    if is_shipped(save_dir):
        raise CLIError(f"{save_dir} holds the pretrained model shipped with disvae (see its {SHIPPED_MARK}); "
                       f"train your own under another name, e.g. `python main.py my_{args.name} ...`")
    if os.path.exists(save_dir) and os.listdir(save_dir):
        raise CLIError(f"{save_dir} already exists; continue it with `python main.py {args.name} --resume`, "
                       "choose another name, or pass --archive to move it aside")


def prepare_results_dir(args, save_dir, logger):
    """Create results/<name>/, first moving an existing one aside with --archive."""
    if args.resume or args.is_eval_only:
        return
    if args.archive and os.path.exists(save_dir) and os.listdir(save_dir):
        archived = f"{save_dir}.{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"
        os.replace(save_dir, archived)
        logger.info("moved the existing %s to %s", save_dir, archived)
    os.makedirs(save_dir, exist_ok=True)


def make_loader(args, dataset, loss_f, batch_size, shuffle, rank=0, world_size=1, seed=0, drop_last=False):
    return BatchLoader(dataset, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed,
                       view_sampling=loss_f.view_sampling, triplet_mode=args.triplet_mode,
                       swap_chance=args.triplet_swap_chance, rec_dist=args.rec_dist,
                       rank=rank, world_size=world_size, min_batch=MIN_BATCH.get(args.loss, 1))


# flags that apply when typed with --resume (the rest of a run's parameters are fixed)
RESUME_KEYS = ("epochs", "max_steps", "max_minutes", "no_progress_bar", "log_level", "checkpoint_steps",
               "checkpoint_every", "checkpoint_minutes", "no_cuda", "threads", "log_every") + EVAL_KEYS


def load_resume_args(argv, name):
    """Parameters of an existing run from its specs.json (typed --max-steps/--epochs win)."""
    save_dir = os.path.join(RES_DIR, name)
    specs = load_specs(save_dir, check_run_args)
    args = argparse.Namespace(**specs["args"])
    overrides = parse_arguments(argv)
    fixed = [key for key in overrides.typed if key not in RESUME_KEYS + ("name", "resume")]
    if fixed:
        flags = ", ".join("--" + key.replace("_", "-") for key in fixed)
        raise CLIError(f"{flags} cannot change with --resume: the run keeps the parameters of its specs.json "
                       f"(typed with --resume, only these apply: "
                       f"{', '.join('--' + k.replace('_', '-') for k in RESUME_KEYS)})")
    if specs.get("status") == "done":
        extends = ("epochs" in overrides.typed and overrides.epochs > args.epochs) or "max_minutes" in overrides.typed \
            or ("max_steps" in overrides.typed and overrides.max_steps > (specs.get("global_step") or 0))
        if not extends:
            raise CLIError(f"{save_dir} is finished (step {specs.get('global_step')}); extend it with a larger "
                           "--epochs or --max-steps, or a new --max-minutes budget")
    for key in RESUME_KEYS:
        if key in overrides.typed:
            setattr(args, key, getattr(overrides, key))
    args.name = name  # the folder named on the command line, even if it was copied or renamed
    args.resume, args.is_eval_only, args.archive = True, False, False
    args.typed = overrides.typed
    return args


def specs_of(args, dataset, n_steps_done=None, status="running"):
    return {"args": {k: v for k, v in vars(args).items() if k not in NOT_SAVED},
            "dataset": args.dataset, "img_size": list(dataset.img_size), "latent_dim": args.latent_dim,
            "model_type": args.model_type, "loss": args.loss, "n_data": len(dataset),
            "status": status, "global_step": n_steps_done,
            "versions": {"disvae": __version__, "torch": torch.__version__, "python": platform.python_version()}}


def evaluate(args, model, dataset, loss_f, save_dir, device, logger):
    from disvae.evaluate import compute_test_losses, write_metrics
    from utils.io import atomic_write_json
    if args.is_metrics and not dataset.has_factors:
        raise CLIError(f"--is-metrics needs a ground-truth dataset; {args.dataset} has no factors")
    progress = not args.no_progress_bar
    if not args.no_test:
        loader = make_loader(args, dataset, loss_f, args.eval_batchsize, shuffle=False, seed=args.seed or 0)
        logger.info("test losses over %d images", len(dataset))
        with phase("computing test losses"):
            losses = compute_test_losses(model, loss_f, loader, device, progress=progress)
        path = os.path.join(save_dir, "test_losses.log")
        atomic_write_json(path, losses)
        keep("test_losses.log", "test_losses.log")
        logger.info("test losses: loss %.4f", losses["loss"])
    if args.is_metrics:
        write_metrics(model, dataset, save_dir, device, args.metrics, args.eval_batchsize,
                      seed=args.seed or 0, logger=logger, n_samples=getattr(args, "metrics_samples", None),
                      recompute=getattr(args, "recompute_metrics", False), progress=progress)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_arguments(argv)
    if args.resume:
        args = load_resume_args(argv, args.name)
    logger = setup_logger(args.log_level)
    if getattr(args, "shipped_note", None):
        logger.info(args.shipped_note)
    torch.set_num_threads(args.threads or default_threads())
    set_seed(args.seed)
    device = get_device(args.no_cuda)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rank, world_size, device = init_from_env(device)
    try:
        return run(args, device, rank, world_size, logger)
    finally:
        shutdown()


def run(args, device, rank, world_size, logger):
    """One run, holding results/.<name>.lock (rank 0) so that no other run uses the folder meanwhile."""
    lock = run_lock(os.path.join(RES_DIR, f".{args.name}.lock")) if rank == 0 else contextlib.nullcontext()
    with lock:
        return run_locked(args, device, rank, world_size, logger)


def run_locked(args, device, rank, world_size, logger):
    is_main = rank == 0
    save_dir = os.path.join(RES_DIR, args.name)
    check_results_dir(args, save_dir)
    if is_main:
        prepare_results_dir(args, save_dir, logger)
    barrier()
    if args.is_eval_only:
        model, specs = load_model(save_dir, device=device, check_args=check_run_args)
        args_saved = argparse.Namespace(**specs["args"])
        for key in EVAL_KEYS + ("no_progress_bar", "log_level"):
            setattr(args_saved, key, getattr(args, key))
        dataset = load_dataset_of_run(vars(args_saved), device)
        loss_f = get_loss_f(args_saved.loss, args_saved, len(dataset)).to(device)
        evaluate(args_saved, model, dataset, loss_f, save_dir, device, logger)
        return 0

    dataset = load_dataset_of_run(vars(args), device)
    model = build_model(args.model_type, dataset.img_size, args.latent_dim).to(device)
    if device.type == "cpu":
        model.use_channels_last()
    seed = args.seed if args.seed is not None else int(torch.seed() % 2**31)
    loss_f = get_loss_f(args.loss, args, len(dataset)).to(device)
    loader = make_loader(args, dataset, loss_f, args.batch_size, shuffle=True, rank=rank, world_size=world_size,
                         seed=seed, drop_last=world_size > 1)
    loss_f.set_total_steps(min(args.epochs * len(loader), args.max_steps or float("inf")))
    train_model = model
    if world_size > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = adam(model.parameters(), lr=args.lr)
    dtype = training_dtype(args.precision, device, args.bf16)
    logger.info("training arithmetic: %s (--precision %s)", "bfloat16 autocast" if dtype else "float32",
                "bf16" if args.bf16 else args.precision)
    if dtype is torch.bfloat16 and device.type == "cpu" and not cpu_has_native_bf16():
        logger.warning("this CPU has no native bfloat16 (AVX-512 BF16 or AMX): bf16 is emulated and "
                       "several times slower than float32 here (--precision auto picks float32)")

    from utils.visualize import training_frame
    trainer = Trainer(model, optimizer, loss_f, loader, save_dir, device=device, train_model=train_model,
                      checkpoint_every=args.checkpoint_every, checkpoint_steps=args.checkpoint_steps,
                      checkpoint_seconds=60 * args.checkpoint_minutes,
                      max_steps=args.max_steps, max_seconds=60 * args.max_minutes if args.max_minutes else None,
                      progress_bar=not args.no_progress_bar, is_main=is_main, log_every=args.log_every,
                      frame_fn=training_frame, autocast_dtype=dtype, logger=logger)
    if args.resume:
        latest = read_checkpoint_pointer(save_dir)
        if latest is None:
            raise CLIError(f"{save_dir} has no checkpoint to resume from")
        trainer.load_state_dict(load_checkpoint(os.path.join(save_dir, latest)))
        logger.info("resuming %s from %s (epoch %d, step %d)", args.name, latest, trainer.epoch, trainer.global_step)
    if is_main:
        save_specs(save_dir, specs_of(args, dataset))
    logger.info("training %s: %s on %s, %d images, device %s, %d process(es)", args.name, args.loss, args.dataset,
                len(dataset), device, world_size)
    try:
        trainer.train(args.epochs)
    except TrainingInterrupted as stop:
        logger.error("interrupted: saved %s; continue with `python main.py %s --resume`", stop.path, args.name)
        return 130
    except NonFiniteLoss as err:
        logger.error("stopped: %s", err)
        return 3
    if is_main:
        from utils.visualize import write_training_gif
        write_training_gif(trainer.frames, os.path.join(save_dir, "training.gif"))
        model.eval()
        evaluate(args, model, dataset, loss_f, save_dir, device, logger)
        save_specs(save_dir, specs_of(args, dataset, trainer.global_step, status="done"))
        logger.info("results in %s", save_dir)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
