# Shared by the bin/*.sh scripts: run a list of commands one by one, or N at a time
# with -j N (each command's output goes to logs/<first word after python>.log).
JOBS=1
while getopts "j:" opt; do
    case $opt in
        j) JOBS=$OPTARG ;;
        *) echo "usage: $0 [-j N]   (N commands in parallel; default 1)" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.." || exit 1

run_all() {  # reads commands, one per line, from stdin
    if [ "$JOBS" -le 1 ]; then
        while read -r cmd; do echo "+ $cmd"; eval "$cmd" || echo "FAILED: $cmd" >&2; done
    else
        xargs -P "$JOBS" -I{} sh -c 'echo "+ {}"; {} || echo "FAILED: {}" >&2'
    fi
}
