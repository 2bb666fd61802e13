#!/usr/bin/env bash
# The VMM sandbox's start-up cost: `kvmsharp run --kernel demo` (start, greet, ACPI power-off, exit) timed with
# the sandbox on (the default: no_new_privs, Landlock, seccomp filter + SIGSYS reporter) and with --sandbox off,
# interleaved run by run so load changes hit both alike; median and mean wall time per accelerator.
# Usage: bench/sandbox-startup.sh [--runs N] [--bin PATH]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=10 bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;   # a kvmsharp binary to use as is (skips the launcher's build check)
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  "$root/kvmsharp" --version >/dev/null || { echo "BENCHMARK ABORTED: the kvmsharp launcher failed" >&2; exit 1; }
  bin="$root/.build/cli/kvmsharp"
fi
accels="emulate"
[ -r /dev/kvm ] && [ -w /dev/kvm ] && accels="kvm emulate"

python3 - "$bin" "$runs" $accels <<'PY'
import statistics, subprocess, sys, time
binary, runs, accels = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"kvmsharp run --kernel demo, {runs} runs each, wall time in ms (process start to exit)")
print(f"{'accel':8} {'sandbox':8} {'median':>8} {'mean':>8} {'min':>8}")
for accel in accels:
    times = {"on": [], "off": []}
    for _ in range(runs):
        for mode in ("on", "off"):
            start = time.perf_counter()
            done = subprocess.run([binary, "run", "--kernel", "demo", "--accel", accel, "--sandbox", mode],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            elapsed = (time.perf_counter() - start) * 1000
            if done.returncode != 0:
                sys.exit(f"BENCHMARK ABORTED: --accel {accel} --sandbox {mode} exited {done.returncode}: {done.stderr.strip()}")
            times[mode].append(elapsed)
    for mode in ("on", "off"):
        t = times[mode]
        print(f"{accel:8} {mode:8} {statistics.median(t):8.1f} {statistics.mean(t):8.1f} {min(t):8.1f}")
    print(f"{accel:8} {'cost':8} {statistics.median(times['on']) - statistics.median(times['off']):8.1f} (median on - off)")
PY
