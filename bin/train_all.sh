#!/usr/bin/env bash
# Train every loss on dSprites (<loss>_dsprites), then every experiment hyperparam.ini names on a
# procedural dataset (best_dsprites, Ada-TVAE's research experiments), into $DISVAE_RESULTS or
# results/<experiment>/. The list comes from the loss registry and hyperparam.ini
# (disvae.config.procedural_experiments): a new loss or experiment joins it by itself.
# Usage: bin/train_all.sh [-j N] [-n]    N experiments in parallel (default: one by one); -n prints them
. "$(dirname "$0")/common.sh"
python -c "from disvae.config import procedural_experiments, read_config
print('\n'.join(procedural_experiments(read_config())))" |
while read -r experiment; do
    echo "python main.py -x $experiment --is-metrics --no-progress-bar"
done | run_all
