#!/usr/bin/env bash
# Ada-TVAE against beta-VAE_H on one dataset with the same CPU budget, side by side,
# then one table of their metrics.
# Usage: bin/compare_adatvae.sh [DATASET] [MINUTES]    (default: dsprites 20)
# Each run gets one CPU thread and MINUTES of wall time; both run at once. Ada-TVAE's
# schedule spans --max-steps (ADA_STEPS, default 200 steps per minute: about what one
# thread sustains on dSprites at batch 64), so it completes within the budget.
set -u
DATASET=${1:-dsprites}
MINUTES=${2:-20}
ADA_STEPS=${ADA_STEPS:-$((MINUTES * 200))}
cd "$(dirname "$0")/.." || exit 1
COMMON="-d $DATASET -e 1000 -b 64 --lr 5e-4 -z 10 --max-minutes $MINUTES --is-metrics --no-test --no-progress-bar"
OMP_NUM_THREADS=1 python main.py "cmp_betaH_$DATASET" -l betaH --betaH-B 4 $COMMON > "results/cmp_betaH_$DATASET.out" 2>&1 &
OMP_NUM_THREADS=1 python main.py "cmp_adatvae_$DATASET" -l adatvae --max-steps "$ADA_STEPS" $COMMON > "results/cmp_adatvae_$DATASET.out" 2>&1 &
wait
python - "$DATASET" <<'PY'
import json, sys
dataset = sys.argv[1]
keys = ["mig_sampled", "mig_histogram", "aam_sampled", "dci_disentanglement", "factor_vae_score",
        "gt_correlation", "linearity_ratio", "axis_alignment_ratio"]
print("| model | steps | " + " | ".join(keys) + " |")
print("|" + "---|" * (len(keys) + 2))
for loss in ("betaH", "adatvae"):
    name = f"cmp_{loss}_{dataset}"
    metrics = json.load(open(f"results/{name}/metrics.log"))
    steps = json.load(open(f"results/{name}/specs.json"))["global_step"]
    print(f"| {loss} | {steps} | " + " | ".join(f"{metrics[k]:.3f}" for k in keys) + " |")
PY
