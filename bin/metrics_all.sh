#!/usr/bin/env bash
# Disentanglement metrics (metrics.log) for every trained dSprites experiment in results/.
# Usage: bin/metrics_all.sh [-j N] [-n]    (-n: print the commands, run none)
. "$(dirname "$0")/common.sh"
for dir in "$RESULTS"/*dsprites*/; do
    [ -f "$dir/model.pt" ] && echo "python main.py $(basename "$dir") --is-eval-only --is-metrics"
done | run_all
[ "$DRY_RUN" = 1 ] || python bin/summarize.py --results "$RESULTS"
