#!/usr/bin/env bash
# Train every predefined dSprites experiment and the research experiments ($DISVAE_RESULTS or results/, <experiment>/).
# Usage: bin/train_all.sh [-j N]    N experiments in parallel (default: one by one)
. "$(dirname "$0")/common.sh"
for loss in VAE betaH betaB factor btcvae dipvaeI dipvaeII; do
    echo "python main.py -x ${loss}_dsprites --is-metrics --no-progress-bar"
done | run_all
for exp in best_dsprites adatvae_dsprites adatvae_xyobject adatvae_xysquares \
           adatvae_unsup_dsprites adatvae_unsup_xyobject adatvae_unsup_xysquares; do
    echo "python main.py -x $exp --is-metrics --no-progress-bar"
done | run_all
