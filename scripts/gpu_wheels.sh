#!/usr/bin/env bash
# Downloads the wheels `scripts/gpu_check.py --system-python` installs on an offline GPU node: the names in
# requirements-gpu-wheels.txt at requirements.lock's pins, for the node's Python and platform. Run it where a
# package registry is reachable; carry the folder with the checkout (docs/gpu.md).
#
#   scripts/gpu_wheels.sh [extra requirement ...]      e.g. torchvision==0.26.0 if the image lacks it
#
# Environment: GPU_WHEELS (folder, default build/gpu-wheels), GPU_PYTHON (default 3.12; several, e.g.
# "3.11 3.12", when the node's is not known: the check installs the wheels that fit its interpreter),
# GPU_PLATFORM (default x86_64), GPU_WHEELS_MAX_MIB (default 40). Versions are requirements.lock's pins.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${GPU_WHEELS:-build/gpu-wheels}
PYTHONS=${GPU_PYTHON:-3.12}
ARCH=${GPU_PLATFORM:-x86_64}
MAX_MIB=${GPU_WHEELS_MAX_MIB:-40}

LIST=requirements-gpu-wheels.txt
mapfile -t PACKAGES < <(sed -e "s/#.*//" -e "s/[[:space:]]*$//" -e "/^$/d" "$LIST")

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
for PY in $PYTHONS; do
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$OUT.tmp" \
    --implementation cp --python-version "$PY" --abi "cp${PY/./}" --abi abi3 --abi none \
    --platform "manylinux_2_28_$ARCH" --platform "manylinux_2_17_$ARCH" --platform "manylinux2014_$ARCH" \
    --platform any "${REQS[@]}"
done
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
