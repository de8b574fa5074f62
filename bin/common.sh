# Shared by the bin/*.sh scripts: run a list of commands one by one, or N at a time
# with -j N. A command line is split into words and run directly: no `eval`, no
# shell re-parsing, so nothing in a results folder name can run as shell code.
JOBS=1
while getopts "j:" opt; do
    case $opt in
        j) JOBS=$OPTARG ;;
        *) echo "usage: $0 [-j N]   (N commands in parallel; default 1)" >&2; exit 2 ;;
    esac
done
case $JOBS in ''|*[!0-9]*|0) echo "$0: -j takes a positive integer, got '$JOBS'" >&2; exit 2 ;; esac
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
RESULTS=${DISVAE_RESULTS:-results}  # where main.py keeps its runs
# Each of the JOBS commands gets an equal share of the cores (at least one thread).
CORES=$(python -c "import os; print(len(os.sched_getaffinity(0)))" 2>/dev/null || nproc)
THREADS=$(( CORES / JOBS > 0 ? CORES / JOBS : 1 ))
export OMP_NUM_THREADS=$THREADS

FAILED_LOG=$(mktemp)
trap 'rm -f "$FAILED_LOG"' EXIT

run_one() {
    local words
    read -ra words <<< "$1"
    echo "+ $1"
    "${words[@]}" || { echo "FAILED: $1" >&2; echo "$1" >> "$FAILED_LOG"; }
}

run_all() {  # reads commands, one per line, from stdin; fails if any of them failed
    local cmd
    : > "$FAILED_LOG"
    while read -r cmd; do
        [ -n "$cmd" ] || continue
        while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
        run_one "$cmd" &
    done
    wait
    [ ! -s "$FAILED_LOG" ]
}
