#!/usr/bin/env bash
# Ada-TVAE against beta-VAE_H on one dataset with the same CPU budget, side by side (two
# jobs of bin/run_commands.py, one core each on 2 cores), then one table of their metrics
# (results/cmp_summary.md, bin/summarize.py).
# Usage: bin/compare_adatvae.sh [DATASET] [MINUTES]    (default: dsprites 20)
# Ada-TVAE's schedule spans --max-steps (ADA_STEPS, default 200 steps per minute: about
# what one thread sustains on dSprites at batch 64), so it completes within the budget.
set -u
DATASET=${1:-dsprites}
MINUTES=${2:-20}
ADA_STEPS=${ADA_STEPS:-$((MINUTES * 200))}
set -- -j 2
. "$(dirname "$0")/common.sh"
COMMON="-d $DATASET -e 1000 -b 64 --lr 5e-4 -z 10 --max-minutes $MINUTES --is-metrics --no-test --no-progress-bar"
{
    echo "python main.py cmp_betaH_$DATASET -l betaH --betaH-B 4 $COMMON"
    echo "python main.py cmp_adatvae_$DATASET -l adatvae --max-steps $ADA_STEPS $COMMON"
} | run_all
python bin/summarize.py --results "$RESULTS" --prefix "cmp_" --out "$RESULTS/cmp_summary"
