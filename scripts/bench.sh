#!/usr/bin/env bash
# Benchmarks, vipd vs keepalived (netns-tests/src/bench/): builds vipd and the benchmarks in
# release, runs them unattended and saves each Markdown report in bench-results/. Run as root
# from anywhere, on a quiet machine:
#   sudo scripts/bench.sh                   # both: failover (about 20 min), then heal (about 10)
#   sudo scripts/bench.sh failover [OPTS]   # failover only, any failover_bench option (--help)
#   sudo scripts/bench.sh heal [OPTS]       # partition heal only, any heal_bench option (--help)
#   sudo scripts/bench.sh flood [OPTS]      # forged-advert floods (about 3 min), flood_bench --help
#   sudo scripts/bench.sh arbiter [OPTS]    # etcd arbiter (about 7 min, needs etcd), arbiter_bench --help
#   sudo scripts/bench.sh scale [OPTS]      # 1 to 1,000 instances, 10/100 ms adverts, CPU and
#                                           # memory beside keepalived (about 15 min), scale_bench --help
#   sudo scripts/bench.sh --runs 2 --idle-secs 5    # options alone: failover, as before
# Reports: bench-results/failover-<date>.md, heal-<date>.md, flood-<date>.md, arbiter-<date>.md,
# scale-<date>.md; logs and captures of failed runs are kept in bench-results/<name>-<date>-failed/.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "bench.sh: needs root (network namespaces); run: sudo $0" >&2; exit 1; }
for tool in ip tcpdump keepalived nft; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done

case "${1:-}" in
  failover | heal | flood | arbiter | scale) which=("$1"); shift ;;
  "") which=(failover heal) ;;
  *) which=(failover) ;;
esac

echo "== building vipd and the benchmarks (release)" >&2
cargo build --release -q -p vipd --bin vipd
cargo build --release -q -p netns-tests --bin failover_bench --bin heal_bench --bin flood_bench \
  --bin arbiter_bench --bin scale_bench --bin pinger
bin="${CARGO_TARGET_DIR:-target}/release"
case " $* " in *" --help "* | *" -h "*) exec "$bin/${which[0]}_bench" --help ;; esac

if [ "${which[0]}" = scale ]; then
  # For `--switch threaded` (threaded NAPI on the switch's ports).
  command -v ethtool >/dev/null || { echo "bench.sh: ethtool missing; run scripts/install-deps.sh" >&2; exit 1; }
fi
if [ "${which[0]}" = arbiter ]; then
  for tool in etcd etcdctl openssl; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
  done
fi

mkdir -p bench-results
for name in "${which[@]}"; do
  stamp=$(date +%F)
  out="bench-results/$name-$stamp.md"
  # A second run on the same day must not overwrite the first.
  [ ! -e "$out" ] || { stamp=$(date +%F-%H%M%S); out="bench-results/$name-$stamp.md"; }
  partial="$out.partial"

  echo "== running $name; progress below, report to $out" >&2
  "$bin/${name}_bench" --vipd "$bin/vipd" --pinger "$bin/pinger" \
    --keep-failed "bench-results/$name-$stamp-failed" "$@" >"$partial"
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
  printf '\nBuilt from commit %s%s by scripts/bench.sh.\n' "$commit" "$dirty" >>"$partial"
  mv "$partial" "$out"
  echo "== done: $out" >&2
  if grep -q 'FAILED\|MISSED' "$out"; then
    echo "== some runs FAILED or missed the target: see $out and bench-results/$name-$stamp-failed/" >&2
  fi
done
