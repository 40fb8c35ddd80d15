#!/usr/bin/env bash
# Everything the suite can tell about a GPU, in one go, with no network:
#   install (no download), GPU tests, smoke and full sweeps saved as JSON, pytest benchmarks.
# Usage: scripts/gpu_run.sh [OUTPUT_DIR]   (default: $OUT, else results/)
# Each step logs to OUTPUT_DIR/<step>.log; a failing step does not stop the others, and the exit
# status is that of the first failing step (0 when all passed).
set -u

cd "$(dirname "$0")/.."
out="${1:-${OUT:-results}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
python="${PYTHON:-$(command -v python || command -v python3)}"

names=()
codes=()
step() {  # step NAME COMMAND...: run, log, remember the exit status
    local name="$1"
    shift
    echo "=== $name: $*"
    "$@" 2>&1 | tee "$out/$name.log"
    local rc="${PIPESTATUS[0]}"
    names+=("$name")
    codes+=("$rc")
    echo "=== $name: exit $rc"
}

if command -v nvidia-smi >/dev/null; then
    nvidia-smi -q >"$out/nvidia-smi.txt" 2>&1
fi

# --no-build-isolation: setuptools is taken from the environment instead of being downloaded.
step install "$python" -m pip install --no-deps --no-build-isolation --no-index -e .
# results/<device>/ as `suite run --save` would lay them out, so `suite compare` finds them
device="$("$python" -c 'import torch; from suite.results import slug; print(slug(torch.cuda.get_device_name()))' 2>/dev/null || echo unknown-gpu)"
mkdir -p "$out/$device"
step gpu-tests "$python" -m pytest -m gpu --benchmark-skip -q -rs --junitxml="$out/gpu-tests.xml"
step sweep-smoke "$python" -m suite run --backend cupy --tier smoke --save "$out/$device/"
step sweep-full "$python" -m suite run --backend cupy --tier full --save "$out/$device/"
step benchmarks "$python" -m pytest tests/benchmarks --benchmark-only -q --benchmark-json="$out/$device/benchmarks.json"

echo
echo "summary (logs in $out):"
status=0
for i in "${!names[@]}"; do
    rc="${codes[$i]}"
    verdict="ok"
    if [ "$rc" != 0 ]; then
        verdict="FAILED (exit $rc)"
        [ "$status" = 0 ] && status="$rc"
    fi
    last="$(grep -v '^[[:space:]]*$' "$out/${names[$i]}.log" | tail -n 1)"
    printf '  %-12s %-18s %s\n' "${names[$i]}" "$verdict" "$last"
done
find "$out" -name '*.json' -newer "$out/install.log" | sed "s|^$out/|  wrote |"
exit "$status"
