#!/bin/sh
# Stand-ins for the cell's other networks, inside the cell: a LAN client (network namespace
# "lanhost" behind the interface lan0) and two VPN peers (namespace "vpnhost" behind an interface
# named wg0, as WireGuard's would be). The lab host's own interface is the WAN.
set -e
ip netns add lanhost
ip link add lan0 type veth peer name eth0 netns lanhost
ip addr add 192.168.50.1/24 dev lan0
ip link set lan0 up
ip -n lanhost addr add 192.168.50.10/24 dev eth0
ip -n lanhost link set eth0 up
ip -n lanhost link set lo up
ip -n lanhost route add default via 192.168.50.1

ip netns add vpnhost
ip link add wg0 type veth peer name eth0 netns vpnhost
ip addr add 10.0.0.1/24 dev wg0
ip link set wg0 up
ip -n vpnhost addr add 10.0.0.2/24 dev eth0
ip -n vpnhost addr add 10.0.0.3/24 dev eth0
ip -n vpnhost link set eth0 up
ip -n vpnhost link set lo up
ip -n vpnhost route add default via 10.0.0.1
