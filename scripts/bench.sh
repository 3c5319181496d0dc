#!/usr/bin/env bash
# Failover benchmark, vipd vs keepalived (netns-tests/src/bench/): builds vipd and the
# benchmark in release, runs it unattended and saves the Markdown report in
# bench-results/failover-<date>.md. Run as root from anywhere, on a quiet machine:
#   sudo scripts/bench.sh                  # the full benchmark (about 20 minutes)
#   sudo scripts/bench.sh --runs 2 --idle-secs 5    # any failover_bench option (--help)
# Logs and captures of failed runs are kept in bench-results/failover-<date>-failed/.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "bench.sh: needs root (network namespaces); run: sudo $0" >&2; exit 1; }
for tool in ip tcpdump keepalived; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done

echo "== building vipd and failover_bench (release)" >&2
cargo build --release -q -p vipd --bin vipd
cargo build --release -q -p netns-tests --bin failover_bench --bin pinger
bin="${CARGO_TARGET_DIR:-target}/release"
case " $* " in *" --help "* | *" -h "*) exec "$bin/failover_bench" --help ;; esac

mkdir -p bench-results
stamp=$(date +%F)
out="bench-results/failover-$stamp.md"
# A second run on the same day must not overwrite the first.
[ ! -e "$out" ] || { stamp=$(date +%F-%H%M%S); out="bench-results/failover-$stamp.md"; }
partial="$out.partial"

echo "== running; progress below, report to $out" >&2
"$bin/failover_bench" --vipd "$bin/vipd" --pinger "$bin/pinger" \
  --keep-failed "bench-results/failover-$stamp-failed" "$@" >"$partial"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
printf '\nBuilt from commit %s%s by scripts/bench.sh.\n' "$commit" "$dirty" >>"$partial"
mv "$partial" "$out"
echo "== done: $out" >&2
if grep -q 'FAILED' "$out"; then
  echo "== some runs FAILED: see the report's failure list and bench-results/failover-$stamp-failed/" >&2
fi
