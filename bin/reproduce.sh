#!/usr/bin/env bash
# The toolkit's reproduction study, a preset of bin/study.py: the seven dSprites losses and
# Ada-TVAE on XYObject and XYSquares, each at its experiment's values, with every metric
# and plot, into results/STUDY/ (study.csv, summary.md and its figures, runs/).
#
# Usage: bin/reproduce.sh [STUDY] [options of bin/study.py]     (STUDY default: repro)
#   bin/reproduce.sh repro -j 2 --steps 20000 --seeds 3              # 27 runs, 2 at a time
#   bin/reproduce.sh repro -j 2 --steps 20000 --seeds 3 --scale-schedules
# Schedules keep the experiments' own lengths unless --scale-schedules shrinks them to the
# budget. Launched again, it does only what is missing (unfinished runs resume).
set -u
cd "$(dirname "$0")/.." || exit 1
STUDY=repro
case ${1:-} in ''|-*) ;; *) STUDY=$1; shift ;; esac
exec python bin/study.py "$STUDY" --preset reproduce "$@"
