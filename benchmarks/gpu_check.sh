#!/usr/bin/env bash
# GPU check: reference coGN and coNGN trained for a few epochs on jdft2d and phonons, on the
# old (collated) and the new (device-resident) data path; prints epoch time, steps per second,
# memory and the old/new and cell/asu ratios, all measured in one run on one card. Then the
# execution settings (TF32, bfloat16, float16, fused Adam, deterministic) against float32.
#
#   benchmarks/gpu_check.sh                      # a GPU machine: venv, install, run on cuda
#   benchmarks/gpu_check.sh --device cpu --epochs 1 --batch-size 8 --data-dir DIR
#
# Set CRYSTALBENCH_NO_INSTALL=1 to use the Python environment already active (no network).
set -euo pipefail
cd "$(dirname "$0")/.."

device=cuda epochs=3 batch_size=64 data_dir=../shared/data/matbench threads=4
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --batch-size) batch_size=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ -z "${CRYSTALBENCH_NO_INSTALL:-}" ]; then
  python3 -m venv .venv-gpu
  . .venv-gpu/bin/activate
  pip install --quiet torch==2.13.0   # on Linux the index's wheel is the CUDA build
  pip install --quiet -e .
fi
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python - <<'PY'
import torch
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}",
      f"({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
PY
crystalbench-bench epochs --device "$device" --epochs "$epochs" --batch-size "$batch_size" \
    --threads "$threads" --data-dir "$data_dir" --models cogn congn
crystalbench-bench numerics --device "$device" --epochs "$epochs" --batch-size "$batch_size" \
    --threads "$threads" --data-dir "$data_dir" --models cogn congn
