#!/usr/bin/env bash
# R2 demo: h1 [10.1.0.1] --veth-- [10.1.0.2] R2 [10.2.0.2] --veth-- [10.2.0.1] h2
#            [2001:db8:1::1]      [2001:db8:1::2]  [2001:db8:2::2]     [2001:db8:2::1]
#
#   demo.sh start   build R2, create the topology, start r2, configure it
#                   with the utilities, ping through it, show counters
#   demo.sh stop    stop r2 and remove the topology
#
# Needs root. h1 and h2 are network namespaces; R2 runs in the root
# namespace on veth_r2_1 and veth_r2_2 (the kernel has no address there).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
BIN=$PWD/bin
PIDFILE=/run/r2/demo.pid
LOG=/tmp/r2-demo.log

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

need_root() {
	if [ "$(id -u)" != 0 ]; then echo "demo: run as root (sudo make demo)" >&2; exit 1; fi
}

install_tools() {
	local missing=()
	command -v ip >/dev/null || missing+=(iproute2)
	command -v ping >/dev/null || missing+=(iputils-ping)
	command -v traceroute >/dev/null || missing+=(traceroute)
	command -v ethtool >/dev/null || missing+=(ethtool)
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

stop() {
	if [ -f "$PIDFILE" ]; then
		local pid; pid=$(cat "$PIDFILE")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
		rm -f "$PIDFILE"
	fi
	ip link del veth_r2_1 2>/dev/null || true
	ip link del veth_r2_2 2>/dev/null || true
	ip netns del h1 2>/dev/null || true
	ip netns del h2 2>/dev/null || true
}

start() {
	install_tools
	if ip netns list | grep -qwE '^(h1|h2)'; then
		echo "demo: namespaces h1/h2 exist already: run 'make demo-stop' first" >&2
		exit 1
	fi
	say "building R2"
	mkdir -p "$BIN"
	for c in r2 utils/r2intf utils/r2rt utils/r2cnt utils/r2log; do
		go build -o "$BIN/$(basename $c)" ./$c
	done
	if [ -S /run/r2/default.sock ]; then
		# A daemon that was killed leaves its socket behind: only one
		# that answers stops us; a stale one goes (r2 would replace it
		# too, but the wait for r2's socket below must not find the old
		# file).
		if "$BIN/r2intf" show >/dev/null 2>&1; then
			echo "demo: an r2 instance 'default' is running (/run/r2/default.sock answers): run 'make demo-stop' first" >&2
			exit 1
		fi
		say "removing /run/r2/default.sock, left by an r2 that did not stop cleanly"
		rm -f /run/r2/default.sock
	fi
	trap 'echo "demo: failed; cleaning up" >&2; stop' ERR

	say "creating the topology: h1 -- R2 -- h2"
	for i in 1 2; do
		ip netns add h$i
		# IPv6 on the hosts without duplicate address detection (addresses
		# usable at once), router solicitations or autoconfiguration.
		ip netns exec h$i sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_ra=0
		ip link add veth_r2_$i type veth peer name veth_h$i netns h$i
		sysctl -qw net.ipv6.conf.veth_r2_$i.disable_ipv6=1
		ip link set veth_r2_$i up
		ip -n h$i link set lo up
		ip -n h$i addr add 10.$i.0.1/24 dev veth_h$i
		# Hosts must send wire-sized frames: R2 drops TSO/GSO super-frames
		# larger than the MTU (checksum offload is fine: R2 completes them).
		ip netns exec h$i ethtool -K veth_h$i tso off gso off gro off >/dev/null 2>&1 || true
		ip -n h$i link set veth_h$i up
		ip -n h$i route add default via 10.$i.0.2
		ip -n h$i addr add 2001:db8:$i::1/64 dev veth_h$i nodad
		ip -n h$i -6 route add default via 2001:db8:$i::2
	done
	ip -n h2 addr add 192.0.2.1/32 dev lo   # a host behind h2, reached by a static route
	ip -n h2 addr add 2001:db8:9::1/128 dev lo   # and its IPv6 twin
	# h2's link-local address: IPv6 routes name their next hop by it.
	h2ll=
	for _ in $(seq 50); do
		h2ll=$(ip -n h2 -6 -o addr show dev veth_h2 scope link | awk '{sub("/.*", "", $4); print $4}')
		[ -n "$h2ll" ] && break
		sleep 0.1
	done
	[ -n "$h2ll" ] || { echo "demo: h2 has no link-local address" >&2; false; }

	say "starting r2 (log: $LOG)"
	mkdir -p /run/r2
	nohup "$BIN/r2" -c /dev/null -threads 2 >"$LOG" 2>&1 &
	echo $! >"$PIDFILE"
	for _ in $(seq 100); do [ -S /run/r2/default.sock ] && break; sleep 0.05; done

	say "configuring R2 with the utilities"
	run "$BIN/r2intf" veth_r2_1 add 0
	run "$BIN/r2intf" veth_r2_1 ip 10.1.0.2/24
	run "$BIN/r2intf" veth_r2_2 add 1 --thread 1
	run "$BIN/r2intf" veth_r2_2 ip 10.2.0.2/24
	run "$BIN/r2intf" veth_r2_1 ip 2001:db8:1::2/64
	run "$BIN/r2intf" veth_r2_2 ip 2001:db8:2::2/64
	run "$BIN/r2rt" route 192.0.2.0/24 10.2.0.1 veth_r2_2
	run "$BIN/r2rt" route 2001:db8:9::/48 "$h2ll" veth_r2_2   # via h2's link-local address
	run "$BIN/r2intf" show
	run "$BIN/r2rt" show all

	say "pinging through R2"
	run ip netns exec h1 ping -c 3 -i 0.2 10.2.0.1
	run ip netns exec h1 ping -c 3 -i 0.2 192.0.2.1
	run ip netns exec h1 traceroute -n -q 1 -w 1 192.0.2.1

	say "pinging through R2 over IPv6"
	local r2ll
	r2ll=$("$BIN/r2intf" show veth_r2_1 | awk 'NR == 2 {print $NF}' | tr , '\n' | grep '^fe80:' | cut -d/ -f1)
	run ip netns exec h1 ping -6 -c 3 -i 0.2 2001:db8:2::1
	run ip netns exec h1 ping -6 -c 3 -i 0.2 2001:db8:9::1
	run ip netns exec h1 ping -6 -c 2 -i 0.2 "$r2ll%veth_h1"    # R2's link-local address
	run ip netns exec h1 traceroute -6 -n -q 1 -w 1 2001:db8:9::1

	say "counters (non-zero)"
	run "$BIN/r2cnt" -z
	trap - ERR

	say "R2 is running. Try:"
	cat <<TRY
  ip netns exec h1 ping 10.2.0.1                    # ping h2 through R2
  ip netns exec h1 ping -6 2001:db8:2::1            # the same over IPv6
  $BIN/r2cnt -z -t                                  # counters per thread
  $BIN/r2log enable; ip netns exec h1 ping -c1 203.0.113.1; $BIN/r2log show
  $BIN/r2rt show 192.0.2.1                          # longest match
  $BIN/r2rt show 2001:db8:9::1                      # IPv6: via h2's link-local address
  $BIN/r2intf show                                  # interfaces
  make demo-stop                                    # stop r2 and remove the topology
TRY
}

need_root
case "${1:-}" in
start) start ;;
stop) stop; echo "demo stopped" ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
