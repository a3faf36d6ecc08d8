#!/bin/sh
# Dual WAN for a single-box hotspot: load balancing over two uplinks and failover when one dies.
# Not part of Lango: plain iproute2, run by the operator (or a systemd timer, see README.md).
# tests/e2e/gateway-dual-wan.test.ts runs exactly this script in network namespaces.
#
#   dual-wan.sh up      per-uplink routing tables and rules, a balanced default route
#   dual-wan.sh check   ping each uplink's router through its own interface; the default route
#                       keeps only the uplinks that answer (both again when both answer).
#                       Run it every 10-30 s (a systemd timer); it changes nothing when nothing
#                       changed, and never removes the last uplink.
#   dual-wan.sh down    removes what `up` added
#
# Settings (environment), e.g. in /etc/default/lango-dual-wan:
#   WAN1_DEV=eth0 WAN1_ADDR=192.0.2.10 WAN1_GW=192.0.2.1 WAN1_WEIGHT=1 WAN1_TABLE=101
#   WAN2_DEV=eth2 WAN2_ADDR=198.51.100.10 WAN2_GW=198.51.100.1 WAN2_WEIGHT=1 WAN2_TABLE=102
#   CHECK_TARGET: what `check` pings through each uplink (default: that uplink's router)
# Both uplinks also need NAT: the gateway's nftables driver masquerades on its wanInterface
# only, so add a masquerade for the second uplink in a table of your own, e.g.
#   nft add table ip wan2nat
#   nft 'add chain ip wan2nat post { type nat hook postrouting priority srcnat; }'
#   nft add rule ip wan2nat post oifname "$WAN2_DEV" masquerade
set -eu

: "${WAN1_DEV:?}" "${WAN1_ADDR:?}" "${WAN1_GW:?}" "${WAN2_DEV:?}" "${WAN2_ADDR:?}" "${WAN2_GW:?}"
WAN1_WEIGHT=${WAN1_WEIGHT:-1}
WAN2_WEIGHT=${WAN2_WEIGHT:-1}
WAN1_TABLE=${WAN1_TABLE:-101}
WAN2_TABLE=${WAN2_TABLE:-102}
IP=${IP:-ip}

balanced() {
  $IP route replace default scope global \
    nexthop via "$WAN1_GW" dev "$WAN1_DEV" weight "$WAN1_WEIGHT" \
    nexthop via "$WAN2_GW" dev "$WAN2_DEV" weight "$WAN2_WEIGHT"
}

alive() { # dev gw
  ping -n -q -c 2 -W 1 -I "$1" "${CHECK_TARGET:-$2}" >/dev/null 2>&1
}

case "${1:-}" in
  up)
    # Each uplink's own table, and replies from an uplink's address leave by that uplink.
    $IP route replace default via "$WAN1_GW" dev "$WAN1_DEV" table "$WAN1_TABLE"
    $IP route replace default via "$WAN2_GW" dev "$WAN2_DEV" table "$WAN2_TABLE"
    $IP rule del from "$WAN1_ADDR" table "$WAN1_TABLE" 2>/dev/null || true
    $IP rule del from "$WAN2_ADDR" table "$WAN2_TABLE" 2>/dev/null || true
    $IP rule add from "$WAN1_ADDR" table "$WAN1_TABLE"
    $IP rule add from "$WAN2_ADDR" table "$WAN2_TABLE"
    # Balance by connection (addresses and ports), not only by address pair.
    echo 1 > /proc/sys/net/ipv4/fib_multipath_hash_policy
    # A route over an interface that lost its carrier is not used.
    echo 1 > "/proc/sys/net/ipv4/conf/$WAN1_DEV/ignore_routes_with_linkdown"
    echo 1 > "/proc/sys/net/ipv4/conf/$WAN2_DEV/ignore_routes_with_linkdown"
    balanced
    ;;
  check)
    one=0; two=0
    alive "$WAN1_DEV" "$WAN1_GW" && one=1
    alive "$WAN2_DEV" "$WAN2_GW" && two=1
    if [ "$one$two" = 11 ]; then balanced; echo "dual-wan: both uplinks"
    elif [ "$one" = 1 ]; then $IP route replace default via "$WAN1_GW" dev "$WAN1_DEV"; echo "dual-wan: $WAN1_DEV only"
    elif [ "$two" = 1 ]; then $IP route replace default via "$WAN2_GW" dev "$WAN2_DEV"; echo "dual-wan: $WAN2_DEV only"
    else echo "dual-wan: no uplink answers; routes unchanged" >&2; exit 1
    fi
    ;;
  down)
    $IP rule del from "$WAN1_ADDR" table "$WAN1_TABLE" 2>/dev/null || true
    $IP rule del from "$WAN2_ADDR" table "$WAN2_TABLE" 2>/dev/null || true
    $IP route flush table "$WAN1_TABLE" 2>/dev/null || true
    $IP route flush table "$WAN2_TABLE" 2>/dev/null || true
    $IP route replace default via "$WAN1_GW" dev "$WAN1_DEV"
    ;;
  *)
    echo "usage: dual-wan.sh up|check|down (settings in the environment, see the top of this file)" >&2
    exit 2
    ;;
esac
