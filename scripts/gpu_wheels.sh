#!/usr/bin/env bash
# The wheels `scripts/gpu_check.py --system-python` installs on an offline GPU node whose Python image already
# has PyTorch (+ torchvision), transformers, peft, accelerate, huggingface_hub, pandas and pyarrow: what the
# training, scoring and serving path imports beyond that, nothing else (no DVC, Prefect or GX). Run it where a
# package registry is reachable; carry the folder with the checkout (docs/gpu.md).
#
#   scripts/gpu_wheels.sh [extra requirement ...]      e.g. torchvision==0.26.0 if the image lacks it
#
# Environment: GPU_WHEELS (folder, default build/gpu-wheels), GPU_PYTHON (default 3.12),
# GPU_PLATFORM (default x86_64), GPU_WHEELS_MAX_MIB (default 40). Versions are requirements.lock's pins.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${GPU_WHEELS:-build/gpu-wheels}
PY=${GPU_PYTHON:-3.12}
ARCH=${GPU_PLATFORM:-x86_64}
MAX_MIB=${GPU_WHEELS_MAX_MIB:-40}
ABI=cp${PY/./}

PACKAGES=(
  # GRPO training: TRL and its dataset library
  trl datasets dill multiprocess xxhash
  # vqr1.config's parameter models
  pydantic pydantic_core annotated-types typing-inspection
  # `transformers serve` (its `serving` extra) and the HTTP client of the serving benchmark
  fastapi starlette annotated-doc opentelemetry-api uvicorn click h11 openai jiter
  httpx2 httpcore2 truststore anyio sniffio
)

pin() {  # NAME -> NAME==VERSION from requirements.lock (names compared as PEP 503 normalises them)
  local want
  want=$(echo "$1" | tr 'A-Z_.' 'a-z--')
  awk -F'==' -v want="$want" '{n=tolower($1); gsub(/[_.]/, "-", n)} n == want {print $1 "==" $2; found=1}
    END {exit !found}' requirements.lock || { echo "gpu_wheels: $1 is not pinned in requirements.lock" >&2; exit 1; }
}

REQS=()
for p in "${PACKAGES[@]}"; do REQS+=("$(pin "$p")"); done
REQS+=("$@")

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$OUT.tmp" \
  --implementation cp --python-version "$PY" --abi "$ABI" --abi abi3 --abi none \
  --platform "manylinux_2_28_$ARCH" --platform "manylinux_2_17_$ARCH" --platform "manylinux2014_$ARCH" \
  --platform any "${REQS[@]}"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"

total=0
for w in "$OUT"/*.whl; do
  size=$(stat -c %s "$w")
  total=$((total + size))
  printf '%8.2f MiB  %s\n' "$(echo "$size / 1048576" | bc -l)" "$(basename "$w")"
done
printf '%8.2f MiB  total, %d wheels in %s (limit %s MiB)\n' "$(echo "$total / 1048576" | bc -l)" \
  "$(ls "$OUT"/*.whl | wc -l)" "$OUT" "$MAX_MIB"
if ((total > MAX_MIB * 1048576)); then
  echo "gpu_wheels: over the $MAX_MIB MiB limit" >&2
  exit 1
fi
