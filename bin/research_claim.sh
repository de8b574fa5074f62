#!/usr/bin/env bash
# The Ada-TVAE research's claim at equal budget: Ada-TVAE (adatvae_research_<dataset>) against
# beta-VAE_H with the same objective less the triplet term (betaH_research_<dataset>), on XYObject
# and dSprites, SEEDS seeds each, then Ada-TVAE on XYSquares (the third shipped Ada-TVAE model);
# every run scored with MIG and the research's ratios, then one table of all of them
# (results/claim_summary.md, bin/summarize.py). The runs are ordered seed by seed, so a stop
# part-way leaves whole seeds of every pair.
# Usage: bin/research_claim.sh [-j N] [-n]     (N runs in parallel; -n prints the commands)
#   STEPS=2000 SEEDS=3 bin/research_claim.sh -j 2
# STEPS (default: the research's 57,600) shortens each run and Ada-TVAE's schedules with it;
# the first seed is 1234.
set -u
STEPS=${STEPS:-57600}
SEEDS=${SEEDS:-3}
. "$(dirname "$0")/common.sh"
case $STEPS$SEEDS in *[!0-9]*) echo "$0: STEPS and SEEDS take positive integers" >&2; exit 2 ;; esac
for ((k = 0; k < SEEDS; k++)); do
    seed=$((1234 + k))
    suffix=""; [ "$k" -gt 0 ] && suffix="_seed$seed"
    for experiment in adatvae_research_xyobject betaH_research_xyobject adatvae_research_dsprites \
                      betaH_research_dsprites adatvae_research_xysquares; do
        echo "python main.py claim_${experiment%%_research_*}_${experiment#*_research_}$suffix -x $experiment" \
             "--seed $seed --max-steps $STEPS --is-metrics --metrics mig research --no-test --no-progress-bar"
    done
done | run_all
[ "$DRY_RUN" = 1 ] || python bin/summarize.py --results "$RESULTS" --prefix "claim_" --finished \
    --out "$RESULTS/claim_summary"
