#!/usr/bin/env bash
# A failover demo in network namespaces: two vipd nodes and a client on one bridge.
# Shows who holds the VIP, kills the Master (SIGKILL plus a cut cable, as a dead host would),
# and measures the takeover from a packet capture in the client namespace.
# Run as root (or with sudo) from anywhere: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "demo.sh: needs root (network namespaces); run it as root, or: sudo $0" >&2; exit 1; }
# The tools the lab needs, and make for building jemalloc, installed if missing, with
# install-deps.sh's care that installing starts no daemon on the host.
tools=(iproute2:ip tcpdump:tcpdump iputils-ping:ping make:make)
for pair in "${tools[@]}"; do
  if ! command -v "${pair#*:}" >/dev/null; then
    echo "== installing the lab's tools (iproute2, tcpdump, iputils-ping, make)"
    scripts/install-deps.sh "${tools[@]}"
    break
  fi
done

# Under sudo, build as the user who ran it: root's PATH (sudo's secure_path) usually lacks
# rustup's ~/.cargo/bin, and a root-owned target/ would break that user's later builds.
build=(cargo build --release -p vipd)
user_home=$([ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && getent passwd "$SUDO_USER" | cut -d: -f6 || true)
as_user=()
[ -n "$user_home" ] && as_user=(runuser -u "$SUDO_USER" -- env HOME="$user_home" PATH="$user_home/.cargo/bin:$PATH")
if [ -n "$user_home" ] && "${as_user[@]}" sh -c 'command -v cargo' >/dev/null 2>&1; then
  build=("${as_user[@]}" "${build[@]}")
elif ! command -v cargo >/dev/null; then
  echo "demo.sh: cargo not found in PATH; install Rust (https://rustup.rs) or add ~/.cargo/bin to PATH" >&2
  exit 1
fi
echo "== building vipd (release; the first build takes about 4 minutes on 2 cores, cargo shows its progress)"
"${build[@]}"
VIPD="${CARGO_TARGET_DIR:-target}/release/vipd"

tag="vd$$"
SW="$tag-sw" N1="$tag-lb1" N2="$tag-lb2" CL="$tag-cl"
VIP=10.203.0.100
work=$(mktemp -d /tmp/vipd-demo.XXXXXX)
pids=()

cleanup() {
  # Reaped here, so bash prints no "Killed" notice for them.
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  for ns in "$N1" "$N2" "$CL" "$SW"; do ip netns del "$ns" 2>/dev/null || true; done
  echo "== cleaned up (logs kept in $work)"
}
trap cleanup EXIT

echo "== lab: switch $SW, nodes $N1 $N2, client $CL on 10.203.0.0/24"
ip netns add "$SW"
ip -n "$SW" link add br0 type bridge
ip -n "$SW" link set br0 up
i=0
for ns in "$N1" "$N2" "$CL"; do
  i=$((i + 1))
  ip netns add "$ns"
  ip link add "$tag-v$i" type veth peer name eth0 netns "$ns"
  ip link set "$tag-v$i" netns "$SW"
  ip -n "$SW" link set "$tag-v$i" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
done
ip -n "$N1" addr add 10.203.0.1/24 dev eth0
ip -n "$N2" addr add 10.203.0.2/24 dev eth0
ip -n "$CL" addr add 10.203.0.10/24 dev eth0

start_node() { # ns config log
  ip netns exec "$1" "$VIPD" run -c "$2" >"$3" 2>&1 &
  pids+=($!)
}
start_node "$N1" conf/demo/lb1.yaml "$work/lb1.log"
start_node "$N2" conf/demo/lb2.yaml "$work/lb2.log"
kill_pid=${pids[0]}

holder() {
  for ns in "$N1" "$N2"; do
    if ip -n "$ns" -o addr show dev eth0 | grep -q " $VIP/"; then echo "${ns#"$tag"-}"; fi
  done
}
wait_for_holder() { # name timeout_s (a SIGKILLed node keeps its stale VIP: only NAME counts)
  local deadline=$((SECONDS + $2))
  until holder | grep -qx "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for $1 to hold $VIP (holders: $(holder))"; exit 1; }
    sleep 0.05
  done
}

echo "== waiting for the election (v3, 100 ms adverts: Master_Down_Interval 360.9 ms)"
wait_for_holder lb1 10
ip netns exec "$CL" ping -c 1 -W 1 "$VIP" >/dev/null
echo "   $VIP is on: $(holder); the client's neighbour entry: $(ip -n "$CL" neigh show "$VIP")"
echo "   lb1 MAC $(ip -n "$N1" -br link show eth0 | awk '{print $3}'), lb2 MAC $(ip -n "$N2" -br link show eth0 | awk '{print $3}')"

echo "== capturing in the client namespace, then killing lb1 (SIGKILL + link down)"
ip netns exec "$CL" tcpdump -i eth0 -n -U --immediate-mode -w "$work/failover.pcap" \
  'ip proto 112 or arp or icmp' 2>"$work/tcpdump.log" &
pids+=($!)
tcpdump_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/tcpdump.log" && break; sleep 0.05; done
ip netns exec "$CL" ping -i 0.02 -W 1 "$VIP" >"$work/ping.log" 2>&1 &
pids+=($!)
ping_pid=$!
sleep 1.3
kill -9 "$kill_pid"
wait "$kill_pid" 2>/dev/null || true # reaped now: no "Killed" notice from bash
ip -n "$N1" link set eth0 down
wait_for_holder lb2 10
sleep 1
kill -INT "$ping_pid" "$tcpdump_pid" 2>/dev/null || true
wait "$tcpdump_pid" 2>/dev/null || true

echo "== what the client saw (timestamps from the capture)"
tcpdump -tt -n -r "$work/failover.pcap" 2>/dev/null >"$work/failover.txt"
last_lb1=$(awk '/10\.203\.0\.1 > 224\.0\.0\.18/ {t=$1} END {print t}' "$work/failover.txt")
first_lb2=$(awk '/10\.203\.0\.2 > 224\.0\.0\.18/ {print $1; exit}' "$work/failover.txt")
first_garp=$(awk -v vip="$VIP" '/ARP/ && ($0 ~ "Announcement " vip || $0 ~ "who-has " vip " tell " vip) {print $1; exit}' "$work/failover.txt")
awk -v a="$last_lb1" -v b="$first_lb2" -v g="$first_garp" 'BEGIN {
  printf "   last advert from lb1 -> first advert from lb2: %.1f ms (RFC Master_Down_Interval: 360.9 ms)\n", (b - a) * 1000
  if (g != "") printf "   first gratuitous ARP from lb2: %.1f ms after lb1 went silent\n", (g - a) * 1000
}'
grep -m1 "MASTER" "$work/lb2.log" | sed 's/^/   lb2 log: /' || true
echo "   $VIP is now on: $(holder | tr '\n' ' ')(lb1 is dead, its kernel is cut off); the client's neighbour entry: $(ip -n "$CL" neigh show "$VIP")"
awk '/packets transmitted/ {print "   client ping every 20 ms: " $0}' "$work/ping.log"
