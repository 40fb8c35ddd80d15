#!/usr/bin/env bash
# Everything the suite can tell about a GPU, with no network:
#   install (no download), GPU tests, smoke and full sweeps saved as JSON, pytest benchmarks.
# Usage: scripts/gpu_run.sh [OUTPUT_DIR] [STEP...]
#   OUTPUT_DIR  default: $OUT, else results/
#   STEP        any of: gpu-tests sweep-smoke sweep-full benchmarks (default: all, in that order), or
#               gpu-tests-smoke (the GPU tests without the full-tier cases, which sweep-full validates too).
# Time: the whole script ends within DEADLINE seconds of its start (default 570, inside a lent
# machine's 600-second command). Each step, in the order given, gets what is left before the deadline
# minus a margin; at its limit it gets SIGINT (a sweep then saves what it finished), and KILL_GRACE
# seconds later (default 15) SIGKILL, which a hung kernel needs. A sweep's result file is up to date
# after every finished case, so even a killed sweep keeps them. A step with under MIN_STEP_SECONDS
# (default 20) left is skipped.
# All output goes to OUTPUT_DIR/gpu_run.log; results to OUTPUT_DIR/<device>/ (few files, as the
# device tool returns at most 8). A failing step does not stop the others; the exit status is that
# of the first failing step (0 when all passed); the install step never counts: when it is refused
# (an externally managed Python, an old setuptools) the steps run from the checkout.
# A sweep step resumes the newest unfinished file of its tier for this device in OUTPUT_DIR/<device>/
# or results/<device>/ (copy it there between lent sessions).
set -u

cd "$(dirname "$0")/.."
out="${1:-${OUT:-results}}"
shift $(( $# > 0 ? 1 : 0 ))
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(gpu-tests sweep-smoke sweep-full benchmarks)
deadline="${DEADLINE:-570}"
grace="${KILL_GRACE:-15}"
min_step="${MIN_STEP_SECONDS:-20}"
margin=$((grace + 5))  # a step stopped at its limit is gone `grace` later, leaving 5 s for the summary
mkdir -p "$out"
out="$(cd "$out" && pwd)"
log="$out/gpu_run.log"
started="$(mktemp)"  # results written after this are this run's

left() {  # seconds a step starting now may run
    echo $((deadline - SECONDS - margin))
}

limited() {  # limited SECONDS COMMAND...: SIGINT at the limit, SIGKILL `grace` later (children too)
    local seconds="$1"
    shift
    timeout --preserve-status -k "$grace" -s INT "$seconds" "$@"
}

# The interpreter that holds torch (on the lent machines a plain python3), unless PYTHON says.
python="${PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null && limited 60 "$candidate" -c 'import torch' 2>/dev/null; then
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
verdicts=()
step() {  # step NAME COMMAND...: run within what is left, log, remember the exit status and the seconds it took
    local name="$1" started_at="$SECONDS" limit
    shift
    limit="$(left)"
    names+=("$name")
    if [ "$limit" -lt "$min_step" ]; then
        echo "=== $name: skipped, it would have $limit s (MIN_STEP_SECONDS is $min_step)" | tee -a "$log"
        codes+=(124); seconds+=(0); verdicts+=("SKIPPED: $limit s left for it before the ${deadline}-second deadline")
        return
    fi
    echo "=== $name (limit ${limit} s): $*" | tee -a "$log"
    limited "$limit" "$@" 2>&1 | tee -a "$log"
    local rc="${PIPESTATUS[0]}" took=$((SECONDS - started_at))
    codes+=("$rc")
    seconds+=("$took")
    if [ "$took" -ge "$limit" ]; then
        verdicts+=("STOPPED at its ${limit}-second limit (exit $rc)")
    elif [ "$rc" = 0 ]; then
        verdicts+=("ok")
    else
        verdicts+=("FAILED (exit $rc)")
    fi
    echo "=== $name: exit $rc after $took s" | tee -a "$log"
}

command -v nvidia-smi >/dev/null && limited 30 nvidia-smi >>"$log" 2>&1
# --no-build-isolation: setuptools is taken from the environment instead of being downloaded.
step install "$python" -m pip install --no-deps --no-build-isolation --no-index -e .
install_rc="${codes[-1]}"
if [ "$install_rc" != 0 ]; then
    # `python -m suite` and pytest import the package from the working directory, this checkout.
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    verdicts[-1]="refused (exit $install_rc, see the log): the steps run from the checkout"
    echo "install refused: running from the checkout ($PWD)" | tee -a "$log"
fi
codes[-1]=0  # the install never decides the exit status

# results/<device>/ as `suite run --save` would lay them out, so `suite compare` finds them
device="$(limited 60 "$python" -c 'import torch; from suite.results import slug; print(slug(torch.cuda.get_device_name()))' 2>/dev/null || echo unknown-gpu)"
mkdir -p "$out/$device"

newest_incomplete() {  # newest_incomplete TIER: this device's newest result file a TIER sweep left unfinished
    limited 60 "$python" - "$1" "$out/$device" "results/$device" <<'PY'
import json, pathlib, sys
tier, *folders = sys.argv[1:]
found, resumed = [], set()
for folder in folders:
    for path in pathlib.Path(folder).glob("*.json"):
        if path.name.startswith("."):  # a temporary file a killed write left behind
            continue
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        resumed.update(str(pathlib.Path(p).resolve()) for p in doc.get("environment", {}).get("resumed_from", []))
        if doc.get("complete") is False and f"--tier {tier}" in doc.get("command", ""):
            found.append((doc.get("created", ""), str(path.resolve())))
found = [f for f in found if f[1] not in resumed]  # a file already resumed lives on in the later one
print(max(found)[1] if found else "")
PY
}

sweep() {  # sweep TIER: a sweep saving after every case, resuming an unfinished one
    local previous
    previous="$(newest_incomplete "$1")"
    [ -n "$previous" ] && echo "resuming $previous" | tee -a "$log"
    step "sweep-$1" "$python" -m suite run --backend cupy --tier "$1" --save "$out/$device/" ${previous:+--resume "$previous"}
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
           names+=("$s"); codes+=(2); seconds+=(0); verdicts+=("FAILED: unknown step") ;;
    esac
done

echo
echo "summary after $SECONDS s of a ${deadline}-second deadline (log: $log):"
status=0
for i in "${!names[@]}"; do
    rc="${codes[$i]}"
    verdict="${verdicts[$i]}"
    case "${names[$i]}:$verdict" in
        sweep-*:STOPPED*) verdict="$verdict; finished cases saved: run this step again to resume" ;;
    esac
    [ "$rc" != 0 ] && [ "$status" = 0 ] && status="$rc"
    printf '  %-16s %5s s  %s\n' "${names[$i]}" "${seconds[$i]}" "$verdict"
done
find "$out" -name '*.json' -newer "$started" ! -name '.*' | sed "s|^$out/|  wrote |"
rm -f "$started"
exit "$status"
