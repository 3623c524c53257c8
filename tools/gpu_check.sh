#!/usr/bin/env bash
# GPU check (issue 23), on a machine with an NVIDIA GPU, in under 8 minutes, into one JSON report:
#   1. create .venv (pinned) when missing,
#   2. run every gpu-marked test in the repository (pytest -m gpu tests),
#   3. benchmark decoding (tools/bench_decode.py, 1080p) on the CPU and on NVDEC,
#   4. benchmark the caption_and_sound pipeline (tools/bench_pipeline.py) on cuda (auto precision,
#      then fp32) and on two CPU cores, and the real/HD mix (tools/bench_real.py) on cuda and cpu,
#   5. time training steps in eager fp32, bf16, torch.compile and bf16 + compile on cuda
#      (tools/bench_train_precision.py),
#   6. write the report: card, driver, torch / PyAV versions, test counts, figures against targets.
# What each step does and how the figures are made: tools/gpu_check.py.
# Usage: tools/gpu_check.sh [REPORT]   (default: $TMPDIR/avseq_gpu_report.json; also printed)
# Exit codes: 0 all passed (or no GPU here: nothing to check), 1 a test or step failed, 2 no venv.
set -uo pipefail
cd "$(dirname "$0")/.."
REPORT="${1:-${TMPDIR:-/tmp}/avseq_gpu_report.json}"
BUDGET=480

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  MSG="no NVIDIA GPU here (nvidia-smi is missing or lists no GPU); nothing to check"
  echo "gpu_check: $MSG" >&2
  mkdir -p "$(dirname "$REPORT")"
  printf '{"status": "no_gpu", "message": "%s"}\n' "$MSG" >"$REPORT"
  echo "gpu_check: report written to $REPORT" >&2
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  timeout 300 make venv || { echo "gpu_check: make venv failed" >&2; exit 2; }
fi
exec .venv/bin/python tools/gpu_check.py --report "$REPORT" --budget $((BUDGET - SECONDS))
