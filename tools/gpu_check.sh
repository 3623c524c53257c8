#!/usr/bin/env bash
# GPU check for the pipeline area, on a machine with an NVIDIA GPU, in under 8 minutes:
#   1. create .venv (pinned) when missing,
#   2. run the CUDA tests (pytest -m gpu),
#   3. benchmark the caption_and_sound pipeline on cuda and on cpu (tools/bench_pipeline.py),
#   4. print the figures.
# Usage: tools/gpu_check.sh [CLIPS]   (default 50 clips per benchmark)
set -uo pipefail
cd "$(dirname "$0")/.."
CLIPS="${1:-50}"
START=$(date +%s)
left() { echo $((480 - ($(date +%s) - START))); }
# seconds for the next step: what is left minus a reserve for the steps after it (at least 10)
budget() { local s=$(( $(left) - $1 )); [ "$s" -lt 10 ] && s=10; echo "$s"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "warning: nvidia-smi failed"
if [ ! -x .venv/bin/python ]; then
  timeout "$(budget 300)" make venv || { echo "make venv failed"; exit 2; }
fi
.venv/bin/python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

echo "== pytest -m gpu"
timeout "$(budget 240)" .venv/bin/python -m pytest -q -m gpu -p no:cacheprovider tests/pipeline tests/cli
TESTS=$?

echo "== bench cuda"
timeout "$(budget 100)" .venv/bin/python tools/bench_pipeline.py --device cuda --clips "$CLIPS" | tee /tmp/avseq_bench_cuda.json
BENCH=$?
echo "== bench cpu (same machine, for comparison)"
timeout "$(budget 5)" .venv/bin/python tools/bench_pipeline.py --device cpu --clips "$CLIPS" | tee /tmp/avseq_bench_cpu.json

echo "== figures"
echo "pytest -m gpu exit=$TESTS  bench exit=$BENCH  elapsed=$(( $(date +%s) - START ))s"
exit $(( TESTS != 0 || BENCH != 0 ))
