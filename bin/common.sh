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

# GPUs: those CUDA_VISIBLE_DEVICES lists, else every GPU nvidia-smi sees; the job in slot k
# (of the JOBS running at once) sees only GPU k mod (number of GPUs), as its cuda:0.
GPUS=()
if [ -n "${CUDA_VISIBLE_DEVICES+set}" ]; then
    IFS=, read -ra GPUS <<< "$CUDA_VISIBLE_DEVICES"
elif command -v nvidia-smi > /dev/null 2>&1; then
    mapfile -t GPUS < <(nvidia-smi --query-gpu=index --format=csv,noheader 2> /dev/null)
fi

FAILED_LOG=$(mktemp)
trap 'rm -f "$FAILED_LOG"' EXIT

run_one() {  # run_one COMMAND SLOT
    local words
    read -ra words <<< "$1"
    if [ "${#GPUS[@]}" -gt 0 ]; then
        echo "+ [GPU ${GPUS[$2 % ${#GPUS[@]}]}] $1"
        CUDA_VISIBLE_DEVICES=${GPUS[$2 % ${#GPUS[@]}]} "${words[@]}" || { echo "FAILED: $1" >&2; echo "$1" >> "$FAILED_LOG"; }
    else
        echo "+ $1"
        "${words[@]}" || { echo "FAILED: $1" >&2; echo "$1" >> "$FAILED_LOG"; }
    fi
}

free_slot() {  # prints a slot whose job has ended (none: nothing)
    local slot
    for ((slot = 0; slot < JOBS; slot++)); do
        if [ -z "${SLOT_PIDS[$slot]:-}" ] || ! kill -0 "${SLOT_PIDS[$slot]}" 2> /dev/null; then
            echo "$slot"; return
        fi
    done
}

run_all() {  # reads commands, one per line, from stdin; fails if any of them failed
    local cmd slot
    SLOT_PIDS=()
    : > "$FAILED_LOG"
    while read -r cmd; do
        [ -n "$cmd" ] || continue
        while slot=$(free_slot); [ -z "$slot" ]; do wait -n; done
        run_one "$cmd" "$slot" &
        SLOT_PIDS[$slot]=$!
    done
    wait
    [ ! -s "$FAILED_LOG" ]
}
