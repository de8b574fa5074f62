#!/usr/bin/env bash
# Reproduction study: train the six losses on dSprites and Ada-TVAE on XYObject and
# XYSquares, each for a wall-clock budget, with every metric; then every plot, and
# results/summary.md with results/summary_seeds.png (each metric per loss, one point per seed).
#
# Usage: bin/reproduce.sh [-j N] [--minutes M | --steps K] [--seeds S] [--experiments "A B ..."] [--metrics-samples K]
#                         [--prefix P]
#   -j N         N runs at once (the cores are split among them; default 1)
#   --minutes M  training budget of each run (default 10)
#   --steps K    train every run exactly K steps instead (every seed as long)
#   --seeds S    runs per experiment: seed of hyperparam.ini, then +1, +2, ... (default 1)
#   --experiments the experiments to run (default: the six dSprites losses, adatvae_xyobject, adatvae_xysquares)
#   --metrics-samples K  cap every metric at about K points (quick checks; default: standard counts)
#   --prefix P   run names start with P (default repro_, beside the shipped results/<experiment>/)
# The first seed's runs are results/P<experiment>/, the others results/P<experiment>_seed<k>/;
# the summary (those runs only) is results/Psummary.md and results/Psummary_seeds.png.
# Schedules that depend on the run length are scaled to the budget (bin/plan_budget.py
# prints how). Existing results folders are kept: their runs are skipped.
set -u
MINUTES=10 STEPS="" SEEDS=1 J=1 EXPERIMENTS="" SAMPLES="" PREFIX=repro_
while [ $# -gt 0 ]; do
    case $1 in
        -j) J=${2:?-j needs a number}; shift 2 ;;
        --minutes) MINUTES=${2:?--minutes needs a number}; shift 2 ;;
        --steps) STEPS=${2:?--steps needs a number}; shift 2 ;;
        --seeds) SEEDS=${2:?--seeds needs a number}; shift 2 ;;
        --experiments) EXPERIMENTS=${2:?--experiments needs names}; shift 2 ;;
        --metrics-samples) SAMPLES=${2:?--metrics-samples needs a number}; shift 2 ;;
        --prefix) PREFIX=${2?--prefix needs a value}; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "$0: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
set -- -j "$J"
. "$(dirname "$0")/common.sh"

case $PREFIX in *[!A-Za-z0-9_.+-]*) echo "$0: --prefix is letters, digits and _ . + -" >&2; exit 2 ;; esac
PLAN_ARGS=(--minutes "$MINUTES" --seeds "$SEEDS" --prefix "$PREFIX")
[ -n "$STEPS" ] && PLAN_ARGS+=(--steps "$STEPS")
[ -n "$SAMPLES" ] && PLAN_ARGS+=(--metrics-samples "$SAMPLES")
[ -n "$EXPERIMENTS" ] && read -ra EXP_LIST <<< "$EXPERIMENTS" && PLAN_ARGS+=(--experiments "${EXP_LIST[@]}")
plan=$(python bin/plan_budget.py "${PLAN_ARGS[@]}") || exit 2
echo "== training ($J at once, $OMP_NUM_THREADS thread(s) each, ${STEPS:+$STEPS steps}${STEPS:-$MINUTES min} per run)"
while read -r cmd; do
    read -ra words <<< "$cmd"
    if [ -e "$RESULTS/${words[2]}" ]; then echo "skip ${words[2]}: $RESULTS/${words[2]} exists" >&2; continue; fi
    echo "$cmd"
done <<< "$plan" | run_all
STATUS=$?
echo "== plots"
while read -r cmd; do
    read -ra words <<< "$cmd"
    [ -f "$RESULTS/${words[2]}/model.pt" ] && echo "python main_viz.py ${words[2]} all -s 1 --is-show-loss"
done <<< "$plan" | run_all || STATUS=1
echo "== summary"
python bin/summarize.py --results "$RESULTS" --prefix "$PREFIX" --out "$RESULTS/${PREFIX}summary" || STATUS=1
[ "$STATUS" -eq 0 ] || echo "$0: some runs failed (see FAILED lines above)" >&2
exit "$STATUS"
