"""Train and/or evaluate a disentangled VAE.

    python main.py -x betaB_dsprites                  # predefined experiment -> results/betaB_dsprites/
                                                      #   (results/my_betaB_dsprites/ beside a shipped model)
    python main.py NAME -d dsprites -l btcvae -e 5    # custom run -> results/NAME/
    python main.py NAME --resume                      # continue an interrupted run
    python main.py NAME --is-eval-only --is-metrics   # evaluate a trained model

The options are declared with the code they configure (disvae/options.py, each loss's
file, each dataset's class); this file only turns them into a command line.
"""
from utils.allocator import tune_allocator

tune_allocator()  # before torch allocates anything: ~40% faster training steps on glibc systems

import sys  # noqa: E402

from disvae.config import offered_experiments, option_groups, read_config  # noqa: E402
from disvae.experiment import parameters, run  # noqa: E402
from utils.cli import OneLineParser, add_option_groups, run_cli, setup_logger, typed_values  # noqa: E402


def build_parser():
    parser = OneLineParser(description="Train and evaluate disentangled VAEs (disvae).")
    add_option_groups(parser, option_groups(offered_experiments(read_config())))
    return parser


def parse_arguments(argv):
    """Every parameter of the run: declared defaults < hyperparam.ini < typed flags."""
    return parameters(typed_values(build_parser().parse_args(argv)))


def main(argv=None):
    params = parse_arguments(sys.argv[1:] if argv is None else argv)
    return run(params, setup_logger(params.log_level))


if __name__ == "__main__":
    sys.exit(run_cli(main))
