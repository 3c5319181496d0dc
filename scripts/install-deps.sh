#!/usr/bin/env bash
# Installs the system packages the privileged tests and benchmarks need (Debian/Ubuntu, as root).
# Idempotent: rerunning it is cheap when everything is present.
#   scripts/install-deps.sh                          # everything the tests need
#   scripts/install-deps.sh PACKAGE:COMMAND ...      # only these (the demo uses this)
#
# Installing keepalived/frr must not start their daemons in the host namespace: Debian's
# maintainer scripts ask /usr/sbin/policy-rc.d first, and exit code 101 forbids the start.
set -euo pipefail

POLICY=/usr/sbin/policy-rc.d
# Each package is here for a test: peers for interop (keepalived, frr), capture and dissection
# (tcpdump, tshark), firewall faults (nftables), the harness itself (iproute2, ping, procps for
# pgrep below, sysctl), the unit's hardening score (systemd, for systemd-analyze; installing
# it starts nothing), promtool for the shipped alerting rules (prometheus; its daemon is held
# back by the same policy-rc.d), etcd and etcdctl for the arbiter's store tests
# (etcd-server's daemon is held back the same way; the tests start their own members) and
# openssl to make those tests' certificates, make, with which jemalloc (vipd's allocator)
# is built, and ethtool, with which the scale benchmark turns on threaded NAPI in the switch
# (`--switch threaded`). Not arping/ndisc6: the harness probes ARP/ND itself on a packet
# socket, listing every answerer without parsing another tool's output.
PACKAGES=(keepalived frr tcpdump tshark nftables iproute2 iputils-ping procps systemd prometheus etcd-server etcd-client openssl make ethtool)
# The commands those packages provide, to skip apt entirely when all are present.
COMMANDS=(keepalived /usr/lib/frr/zebra /usr/lib/frr/vrrpd tcpdump tshark nft ip ping pgrep sysctl systemd-analyze promtool etcd etcdctl openssl make ethtool)

if [ $# -gt 0 ]; then
  PACKAGES=() COMMANDS=()
  for pair in "$@"; do
    PACKAGES+=("${pair%%:*}") COMMANDS+=("${pair#*:}")
  done
fi

die() { echo "install-deps: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get install)"
command -v apt-get >/dev/null || die "apt-get not found: install these by hand: ${PACKAGES[*]}"

missing=0
for c in "${COMMANDS[@]}"; do
  command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || { missing=1; break; }
done
if [ $missing = 0 ]; then
  echo "install-deps: all tools present, nothing to install"
else
  if [ -e "$POLICY" ]; then
    # Never overwrite someone else's policy; only check that it blocks service starts.
    set +e; "$POLICY" keepalived start >/dev/null 2>&1; rc=$?; set -e
    [ $rc = 101 ] || die "$POLICY exists but exits $rc, not 101: installing would start daemons on the host; fix it first"
  else
    printf '#!/bin/sh\n# Created by vipd scripts/install-deps.sh: forbid service starts during apt installs.\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    echo "install-deps: NOTE: created $POLICY (exit 101) so that installing keepalived/frr/prometheus/etcd starts no daemon; it is left in place" >&2
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (a parallel job) may hold the lock; wait for it instead of failing.
  apt-get -o DPkg::Lock::Timeout=600 update
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${PACKAGES[@]}"
fi

# Reading only: report any peer daemon running in the host namespace. Never kill by name; a
# daemon found here was not started by the tests, and a human must decide.
if command -v pgrep >/dev/null; then
  # The namespace this script runs in is the host's (CI and developers run it there).
  host_ns=$(readlink /proc/$$/ns/net)
  found=0
  for pid in $(for d in keepalived zebra vrrpd watchfrr bgpd prometheus etcd; do pgrep -x "$d"; done); do
    if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$host_ns" ]; then
      echo "install-deps: WARNING: $(ps -o pid=,args= -p "$pid") runs in the host network namespace" >&2
      found=1
    fi
  done
  [ $found = 0 ] && echo "install-deps: no keepalived/frr/prometheus/etcd daemon runs in the host namespace"
fi
exit 0
