#!/usr/bin/env bash
# The checks that need a GPU, as one script for a machine that has one (a few minutes):
#   1. the tests marked cuda (no host sync in a CUDA training step, for every loss);
#   2. bin/benchmark.py on CUDA (training images/s per loss, data time, evaluation);
#   3. --deterministic is bit-exact on CUDA: two runs of the same command, and a run
#      interrupted by its budget then resumed, give identical weights.
# Usage: bin/gpu_check.sh [STEPS]   (steps of the determinism runs; default 300)
set -u
cd "$(dirname "$0")/.." || exit 1
STEPS=${1:-300}
case $STEPS in ''|*[!0-9]*) echo "$0: STEPS is a positive integer" >&2; exit 2 ;; esac
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "$0: no CUDA GPU is visible here" >&2; exit 2; }
export DISVAE_RESULTS=${DISVAE_RESULTS:-$(mktemp -d)}
STATUS=0
echo "== 1. tests marked cuda"
python -m pytest -q -m cuda tests || STATUS=1
echo "== 2. benchmark on CUDA"
python bin/benchmark.py --device cuda --steps 200 || STATUS=1
echo "== 3. --deterministic on CUDA ($STEPS steps; results in $DISVAE_RESULTS)"
RUN=(-x btcvae_dsprites --deterministic --device cuda --no-test --no-progress-bar -L warning)
python main.py det_a "${RUN[@]}" --max-steps "$STEPS" || STATUS=1
python main.py det_b "${RUN[@]}" --max-steps "$STEPS" || STATUS=1
python main.py det_cut "${RUN[@]}" --max-steps $((STEPS / 2)) || STATUS=1
python main.py det_cut --resume --max-steps "$STEPS" --no-progress-bar -L warning || STATUS=1
python - "$DISVAE_RESULTS" << 'EOF' || STATUS=1
import os, sys, torch
root = sys.argv[1]
a, b, cut = (torch.load(os.path.join(root, name, "model.pt")) for name in ("det_a", "det_b", "det_cut"))
for label, other in (("a second run", b), ("an interrupted and resumed run", cut)):
    same = all(torch.equal(a[k], other[k]) for k in a)
    print(f"{label}: {'bit-identical' if same else 'DIFFERENT'} weights")
    if not same:
        sys.exit(1)
EOF
[ "$STATUS" -eq 0 ] && echo "== all GPU checks passed" || echo "== some GPU checks FAILED" >&2
exit "$STATUS"
