#!/usr/bin/env bash
# Every plot of every trained experiment in results/, then the summary table and figure.
# Usage: bin/plot_all.sh [-j N] [-n]    (-n: print the commands, run none)
. "$(dirname "$0")/common.sh"
for dir in "$RESULTS"/*/; do
    [ -f "$dir/model.pt" ] && echo "python main_viz.py $(basename "$dir") all -s 1 --is-show-loss --is-posterior"
done | run_all
[ "$DRY_RUN" = 1 ] || python bin/summarize.py --results "$RESULTS"
