#!/usr/bin/env bash
# Captures real VRRP adverts into tests/fixtures/ so the packet tests decode bytes this
# project did not produce. keepalived supplies v2, v2+PASS auth, v3 IPv4 and v3 IPv6; FRR
# vrrpd supplies a second implementation's v3 IPv4. Both send the VRRPv3-over-IPv4 checksum
# with the pseudo-header: neither keepalived 2.2.7 (no `v3_checksum_as_v2` keyword) nor FRR
# 8.4.4 (no `checksum-with-ipv4-pseudoheader` command) can send the RFC 9568 form, so that
# form is checked against Wireshark's dissector instead (tests/packet_tshark.rs).
#
# Needs root and: keepalived tcpdump tshark frr (Debian packages). Everything runs in two
# namespaces joined by a veth pair that this script creates and removes on exit.
# Idempotent: re-running overwrites the pcaps.
set -euo pipefail

OUT=$(cd "$(dirname "$0")/../tests/fixtures" && pwd)
SUF=$(( $$ % 100000 ))
NS_PEER=vtpkp$SUF          # runs keepalived / FRR
NS_CAP=vtpkc$SUF           # runs tcpdump
VETH_PEER=vtpp$SUF
VETH_CAP=vtpc$SUF
WORK=$(mktemp -d /tmp/vtpk.XXXXXX)
RUNNING=()                 # PIDs we started, killed one by one on exit

cleanup() {
    local pid
    for pid in "${RUNNING[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    ip netns del "$NS_PEER" 2>/dev/null || true
    ip netns del "$NS_CAP" 2>/dev/null || true
    rm -rf "/var/run/frr/$NS_PEER" "$WORK"
}
trap cleanup EXIT

for tool in keepalived tcpdump tshark /usr/lib/frr/zebra /usr/lib/frr/vrrpd; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install keepalived tcpdump tshark frr" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (namespaces)" >&2; exit 1; }

# --- the lab -------------------------------------------------------------------------
ip netns add "$NS_PEER"
ip netns add "$NS_CAP"
ip link add "$VETH_PEER" netns "$NS_PEER" type veth peer name "$VETH_CAP" netns "$NS_CAP"
for ns in "$NS_PEER" "$NS_CAP"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
    ip -n "$ns" link set lo up
done
# Fixed MAC and link-local address, so the fixture test can assert the IPv6 source.
ip -n "$NS_PEER" link set "$VETH_PEER" address 02:00:00:77:00:01 addrgenmode none
ip -n "$NS_CAP" link set "$VETH_CAP" address 02:00:00:77:00:02 addrgenmode none
ip -n "$NS_PEER" addr add 10.77.0.1/24 dev "$VETH_PEER"
ip -n "$NS_CAP" addr add 10.77.0.2/24 dev "$VETH_CAP"
ip -n "$NS_PEER" addr add fe80::77:1/64 dev "$VETH_PEER" nodad
ip -n "$NS_CAP" addr add fe80::77:2/64 dev "$VETH_CAP" nodad
ip -n "$NS_PEER" link set "$VETH_PEER" up
ip -n "$NS_CAP" link set "$VETH_CAP" up

# start_capture NAME: tcpdump for 3 adverts in the capture namespace; sets CAP_PID.
start_capture() {
    ip netns exec "$NS_CAP" timeout 30 tcpdump -Z root -i "$VETH_CAP" --immediate-mode -c 3 \
        -w "$WORK/$1.pcap" 'ip proto 112 or ip6 proto 112' 2>"$WORK/$1.tcpdump" &
    CAP_PID=$!
    RUNNING+=("$CAP_PID")
    for _ in $(seq 50); do grep -q listening "$WORK/$1.tcpdump" 2>/dev/null && return; sleep 0.1; done
    echo "tcpdump did not start: $(cat "$WORK/$1.tcpdump")" >&2; exit 1
}

# finish_capture NAME: waits for the 3 adverts and copies the pcap out.
finish_capture() {
    wait "$CAP_PID" || { echo "capture $1 failed: $(cat "$WORK/$1.tcpdump")" >&2; exit 1; }
    local n; n=$(tshark -r "$WORK/$1.pcap" 2>/dev/null | wc -l)
    [ "$n" = 3 ] || { echo "capture $1: $n packets, wanted 3; peer logs:" >&2; cat "$WORK"/*.log >&2; exit 1; }
    cp "$WORK/$1.pcap" "$OUT/$1.pcap"
}

stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

# keepalived_capture NAME: runs keepalived on $WORK/NAME.conf until 3 adverts are captured.
keepalived_capture() {
    start_capture "$1"
    ip netns exec "$NS_PEER" keepalived -n -P -l -D -G -f "$WORK/$1.conf" \
        -p "$WORK/$1.keepalived.pid" -r "$WORK/$1.vrrp.pid" >"$WORK/$1.log" 2>&1 &
    local kpid=$!
    RUNNING+=("$kpid")
    finish_capture "$1"
    stop "$kpid"
    echo "captured $1"
}

instance() { # NAME VRID PRIO INTERVAL EXTRA VIPS...
    local name=$1 vrid=$2 prio=$3 int=$4 extra=$5; shift 5
    cat >"$WORK/$name.conf" <<CONF
global_defs {
    router_id vtpk
}
vrrp_instance $name {
    state MASTER
    interface $VETH_PEER
    virtual_router_id $vrid
    priority $prio
    advert_int $int
    $extra
    virtual_ipaddress {
$(printf '        %s\n' "$@")
    }
}
CONF
}

instance v2 51 150 1 "version 2" 192.168.77.10/24 192.168.77.11/24
keepalived_capture v2
instance v2_auth 52 100 1 "version 2
    authentication {
        auth_type PASS
        auth_pass secret
    }" 192.168.77.20/24
keepalived_capture v2_auth
instance v3_ipv4 53 200 0.5 "version 3" 192.168.77.30/24 192.168.77.31/24
keepalived_capture v3_ipv4
instance v3_ipv6 55 120 0.5 "version 3" 2001:db8:77::55/64
keepalived_capture v3_ipv6

# --- FRR vrrpd: a second implementation of VRRPv3 over IPv4 ------------------------------
mkdir -p "/var/run/frr/$NS_PEER"
chown frr:frr "/var/run/frr/$NS_PEER" "$WORK"
# FRR wants a macvlan with the virtual MAC of the VRID on the interface; it finds it by MAC.
ip -n "$NS_PEER" link add vtpm$SUF link "$VETH_PEER" type macvlan mode bridge
ip -n "$NS_PEER" link set vtpm$SUF address 00:00:5e:00:01:36 up
ip -n "$NS_PEER" addr add 192.168.77.54/24 dev vtpm$SUF
: >"$WORK/zebra.conf"
cat >"$WORK/vrrpd.conf" <<CONF
interface $VETH_PEER
 vrrp 54 version 3
 vrrp 54 priority 180
 vrrp 54 advertisement-interval 700
 vrrp 54 ip 192.168.77.54
CONF
chown frr:frr "$WORK"/zebra.conf "$WORK"/vrrpd.conf
start_capture v3_ipv4_frr
ip netns exec "$NS_PEER" /usr/lib/frr/zebra -N "$NS_PEER" -f "$WORK/zebra.conf" \
    -i "$WORK/zebra.pid" --log "file:$WORK/zebra.log" >/dev/null 2>&1 &
ZPID=$!
RUNNING+=("$ZPID")
sleep 1
ip netns exec "$NS_PEER" /usr/lib/frr/vrrpd -N "$NS_PEER" -f "$WORK/vrrpd.conf" \
    -i "$WORK/vrrpd.pid" --log "file:$WORK/vrrpd.log" >/dev/null 2>&1 &
VPID=$!
RUNNING+=("$VPID")
finish_capture v3_ipv4_frr
stop "$VPID"
stop "$ZPID"
echo "captured v3_ipv4_frr"

# --- provenance and tshark's reading of the same bytes ----------------------------------
{
    echo "VRRP adverts captured by scripts/capture-fixtures.sh on $(date -u +%Y-%m-%d)."
    echo "Peer address 10.77.0.1 / fe80::77:1 (MAC 02:00:00:77:00:01); 3 adverts per file."
    echo
    echo "v2.pcap               $(keepalived --version 2>&1 | head -1): VRRPv2, VRID 51, prio 150, 1 s, 2 VIPs"
    echo "v2_auth.pcap          same keepalived: VRRPv2, VRID 52, prio 100, 1 s, auth PASS 'secret'"
    echo "v3_ipv4.pcap          same keepalived: VRRPv3 IPv4, VRID 53, prio 200, 0.5 s, 2 VIPs (pseudo-header checksum)"
    echo "v3_ipv6.pcap          same keepalived: VRRPv3 IPv6, VRID 55, prio 120, 0.5 s, 1 VIP"
    echo "v3_ipv4_frr.pcap      FRR vrrpd $(/usr/lib/frr/vrrpd --version 2>&1 | head -1 | awk '{print $NF}'):" \
         "VRRPv3 IPv4, VRID 54, prio 180, 700 ms, 1 VIP (pseudo-header checksum)"
    echo "Neither peer version can send the RFC 9568 (no pseudo-header) IPv4 checksum."
    echo "tcpdump: $(tcpdump --version 2>&1 | head -1); tshark: $(tshark --version 2>/dev/null | head -1)"
} >"$OUT/README.txt"
{
    echo "# tshark -T fields, one line per advert (see capture-fixtures.sh for the field list)"
    for f in v2 v2_auth v3_ipv4 v3_ipv6 v3_ipv4_frr; do
        echo "## $f.pcap"
        tshark -r "$OUT/$f.pcap" -T fields -E separator=' ' -E aggregator=, \
            -e ip.src -e ipv6.src -e ip.ttl -e ipv6.hlim -e vrrp.version -e vrrp.virt_rtr_id \
            -e vrrp.prio -e vrrp.addr_count -e vrrp.auth_type -e vrrp.adver_int \
            -e vrrp.short_adver_int -e vrrp.auth_string -e vrrp.ip_addr -e vrrp.ipv6_addr \
            -e vrrp.checksum -e vrrp.checksum.status 2>/dev/null
    done
} >"$OUT/tshark-fields.txt" 2>&1
cat "$OUT/tshark-fields.txt"
