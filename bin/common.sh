# Shared by the bin/*.sh scripts: run a list of commands one by one, or N at a time
# with -j N, through bin/run_commands.py (the runner of bin/study.py: submitit's local
# executor, each job with its share of the cores and its own GPU where there are GPUs).
# A command line is split into words and run directly: no `eval`, no shell re-parsing,
# so nothing in a results folder name can run as shell code.
JOBS=1
DRY_RUN=0
while getopts "j:n" opt; do
    case $opt in
        j) JOBS=$OPTARG ;;
        n) DRY_RUN=1 ;;
        *) echo "usage: $0 [-j N] [-n]   (N commands in parallel, default 1; -n: print the commands, run none)" >&2
           exit 2 ;;
    esac
done
case $JOBS in ''|*[!0-9]*|0) echo "$0: -j takes a positive integer, got '$JOBS'" >&2; exit 2 ;; esac
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
RESULTS=${DISVAE_RESULTS:-results}  # where main.py keeps its runs

run_all() {  # reads commands, one per line, from stdin: bin/run_commands.py runs them JOBS at a time (-n: prints them)
    if [ "$DRY_RUN" = 1 ]; then cat; else python bin/run_commands.py -j "$JOBS"; fi
}
