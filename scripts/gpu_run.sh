#!/usr/bin/env bash
# Everything the suite can tell about a GPU, with no network:
#   install (no download), GPU tests, smoke and full sweeps saved as JSON, pytest benchmarks.
# Usage: scripts/gpu_run.sh [OUTPUT_DIR] [STEP...]
#   OUTPUT_DIR  default: $OUT, else results/
#   STEP        any of: gpu-tests sweep-smoke sweep-full benchmarks (default: all, in that order), or
#               gpu-tests-smoke (the GPU tests without the full-tier cases, which sweep-full validates too);
#               a lent machine limits one command to 10 minutes, so a session runs a few steps per call.
# All output goes to OUTPUT_DIR/gpu_run.log; results to OUTPUT_DIR/<device>/ (few files, as the
# device tool returns at most 8). A failing step does not stop the others; the exit status is that
# of the first failing step (0 when all passed).
# A sweep stops after SWEEP_SECONDS (default 480) with SIGINT, which saves its finished cases marked
# incomplete; the same step run again resumes the newest incomplete file of its tier for this device
# in OUTPUT_DIR/<device>/ or results/<device>/ (copy it there between lent sessions).
set -u

cd "$(dirname "$0")/.."
out="${1:-${OUT:-results}}"
shift $(( $# > 0 ? 1 : 0 ))
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(gpu-tests sweep-smoke sweep-full benchmarks)
mkdir -p "$out"
out="$(cd "$out" && pwd)"
log="$out/gpu_run.log"
started="$(mktemp)"  # results written after this are this run's
# The interpreter that holds torch (on the lent machines a plain python3), unless PYTHON says.
python="${PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch' 2>/dev/null; then
            python="$(command -v "$candidate")"
            break
        fi
    done
fi
if [ -z "$python" ]; then
    echo "no python3 or python here can import torch; set PYTHON=/path/to/python" >&2
    exit 2
fi

names=()
codes=()
seconds=()
sweep_seconds="${SWEEP_SECONDS:-480}"
step() {  # step NAME COMMAND...: run, log, remember the exit status and the seconds it took
    local name="$1" started_at="$SECONDS"
    shift
    echo "=== $name: $*" | tee -a "$log"
    "$@" 2>&1 | tee -a "$log"
    local rc="${PIPESTATUS[0]}"
    names+=("$name")
    codes+=("$rc")
    seconds+=("$((SECONDS - started_at))")
    echo "=== $name: exit $rc after ${seconds[-1]} s" | tee -a "$log"
}

command -v nvidia-smi >/dev/null && nvidia-smi >>"$log" 2>&1
# --no-build-isolation: setuptools is taken from the environment instead of being downloaded.
step install "$python" -m pip install --no-deps --no-build-isolation --no-index -e .
# results/<device>/ as `suite run --save` would lay them out, so `suite compare` finds them
device="$("$python" -c 'import torch; from suite.results import slug; print(slug(torch.cuda.get_device_name()))' 2>/dev/null || echo unknown-gpu)"
mkdir -p "$out/$device"

newest_incomplete() {  # newest_incomplete TIER: this device's newest result file a TIER sweep left unfinished
    "$python" - "$1" "$out/$device" "results/$device" <<'PY'
import json, pathlib, sys
tier, *folders = sys.argv[1:]
found = []
for folder in folders:
    for path in pathlib.Path(folder).glob("*.json"):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if doc.get("complete") is False and f"--tier {tier}" in doc.get("command", ""):
            found.append((doc.get("created", ""), str(path)))
print(max(found)[1] if found else "")
PY
}

sweep() {  # sweep TIER: a timed sweep, resuming an unfinished one
    local previous
    previous="$(newest_incomplete "$1")"
    [ -n "$previous" ] && echo "resuming $previous" | tee -a "$log"
    step "sweep-$1" timeout --preserve-status -s INT "$sweep_seconds" "$python" -m suite run --backend cupy \
        --tier "$1" --save "$out/$device/" ${previous:+--resume "$previous"}
}

for s in "${steps[@]}"; do
    case "$s" in
        gpu-tests) step gpu-tests "$python" -m pytest -m gpu --benchmark-skip -q -rs -p no:cacheprovider ;;
        gpu-tests-smoke) step gpu-tests-smoke "$python" -m pytest -m gpu -k "not full" --benchmark-skip -q -rs \
            -p no:cacheprovider ;;
        sweep-smoke) sweep smoke ;;
        sweep-full) sweep full ;;
        benchmarks) step benchmarks "$python" -m pytest tests/benchmarks --benchmark-only -q -p no:cacheprovider \
            --benchmark-json="$out/$device/benchmarks.json" ;;
        *) echo "unknown step '$s'; expected gpu-tests, gpu-tests-smoke, sweep-smoke, sweep-full or benchmarks" \
               | tee -a "$log"
           names+=("$s"); codes+=(2); seconds+=(0) ;;
    esac
done

echo
echo "summary (log: $log):"
status=0
for i in "${!names[@]}"; do
    rc="${codes[$i]}"
    verdict="ok"
    if [ "$rc" = 130 ]; then
        verdict="stopped after ${sweep_seconds} s, finished cases saved: run this step again to resume"
        [ "$status" = 0 ] && status="$rc"
    elif [ "$rc" != 0 ]; then
        verdict="FAILED (exit $rc)"
        [ "$status" = 0 ] && status="$rc"
    fi
    printf '  %-16s %5s s  %s\n' "${names[$i]}" "${seconds[$i]}" "$verdict"
done
find "$out" -name '*.json' -newer "$started" | sed "s|^$out/|  wrote |"
rm -f "$started"
exit "$status"
