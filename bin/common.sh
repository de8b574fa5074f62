# Shared by the bin/*.sh scripts: run a list of commands one by one, or N at a time
# with -j N, through bin/run_commands.py (the runner of bin/study.py: submitit's local
# executor, each job with its share of the cores and its own GPU where there are GPUs).
# A command line is split into words and run directly: no `eval`, no shell re-parsing,
# so nothing in a results folder name can run as shell code.
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

run_all() {  # reads commands, one per line, from stdin: bin/run_commands.py runs them JOBS at a time
    python bin/run_commands.py -j "$JOBS"
}
