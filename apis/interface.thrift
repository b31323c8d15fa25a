// Interface: attach Linux interfaces to R2, give them addresses, show them.

include "common.thrift"

namespace go intf
namespace py r2api.intf

// IfInfo describes one interface owned by R2.
struct IfInfo {
  1: string name           // Linux interface name, e.g. "veth_r2_1"
  2: i32 ifindex           // R2's own index of the interface
  3: i32 linux_index       // the kernel's ifindex
  4: string mac            // "8a:61:da:68:46:76"
  5: i32 mtu
  6: bool up
  7: list<string> addrs    // interface addresses, "1.1.1.2/24"
  8: i32 thread            // forwarding thread that owns the interface
  9: string driver         // "afpacket", "afxdp", ...
  10: i64 rx_pkts
  11: i64 tx_pkts
  12: i64 rx_drops
  13: i64 tx_drops
  14: bool host_owned      // the Linux host answers ARP, NDP and traffic for the addresses
}

// Neighbour is an IP-to-MAC mapping on an interface, as R2 knows it.
struct Neighbour {
  1: string ifname
  2: string addr           // "10.1.0.1", "2001:db8:1::1", "fe80::1"
  3: string mac            // "" while incomplete or failed
  4: string kind           // "learned" (ARP, ND), "static" (add_neighbour), "kernel" (add_neighbour from r2follow)
  5: string state          // "static" (static and kernel), "reachable", "stale", "incomplete", "failed"
  6: i64 age_ms            // since it was last set or confirmed
}

// ServiceCurve is a two-piece HFSC service curve: m1 bits/s during the
// first d milliseconds of a backlog period, m2 bits/s after that.
struct ServiceCurve {
  1: i64 m1
  2: i32 d
  3: i64 m2
}

// Curves are a class's service curves, each optional: r_sc real-time
// (leaves only), u_sc upper limit, f_sc link-sharing ("fair").
struct Curves {
  1: optional ServiceCurve r_sc
  2: optional ServiceCurve u_sc
  3: optional ServiceCurve f_sc
}

// ClassRule is a classifier rule: packets matching every criterion given
// go to leaf class cls; the lowest prio matching wins.
struct ClassRule {
  1: i32 prio
  2: string cls
  3: i32 dscp = -1          // 0-63, -1 any
  4: string src = ""        // prefix, "" any (IPv4 or IPv6)
  5: string dst = ""
  6: i32 proto = -1         // IP protocol, -1 any
  7: i32 sport_lo = 0       // port ranges, inclusive; 0-0 any
  8: i32 sport_hi = 0
  9: i32 dport_lo = 0
  10: i32 dport_hi = 0
  11: i64 pkts              // show_qos: packets and bytes matched
  12: i64 bytes
}

// ClassInfo is a class with its scheduler state. Times are nanoseconds of
// the owner thread's clock (QosInfo.now); vt is a virtual time, comparable
// among siblings only.
struct ClassInfo {
  1: string name
  2: string parent
  3: bool is_leaf
  4: i32 qlimit
  5: Curves curves
  6: i64 pkts               // sent
  7: i64 bytes
  8: i64 drops              // queue full, or freed with a deleted class
  9: i32 qlen
  10: i64 qbytes
  11: bool active
  12: i64 vt
  13: i64 eligible
  14: i64 deadline
  15: i64 fit
}

// QosInfo is an interface's QoS configuration and state.
struct QosInfo {
  1: string ifname
  2: i64 rate               // link rate, bits/s
  3: string default_class   // "" none: scheduling inactive
  4: bool active
  5: i64 now
  6: list<ClassInfo> classes
  7: list<ClassRule> rules
}

service Interface {
  // add_if attaches the Linux interface ifname to R2.
  //   ifindex: R2 index for the interface; -1 picks a free one.
  //   mac:     MAC address to use; "" uses the Linux interface's MAC.
  //   thread:  forwarding thread that owns it; -1 picks one.
  //   driver:  "" (default), "afpacket" or "afxdp".
  void add_if(1: string ifname, 2: i32 ifindex, 3: string mac, 4: i32 thread,
              5: string driver) throws (1: common.ApiErr err)

  // add_if_threads attaches ifname served by several forwarding threads,
  // each with its own socket (AF_PACKET fanout, hash mode: a flow stays on
  // one thread). threads: at least one, distinct; the first owns the
  // interface. The other arguments are as for add_if.
  void add_if_threads(1: string ifname, 2: i32 ifindex, 3: string mac,
                      4: list<i32> threads, 5: string driver) throws (1: common.ApiErr err)

  // del_if detaches ifname from R2 (its routes and addresses go with it).
  void del_if(1: string ifname) throws (1: common.ApiErr err)

  // add_ip gives ifname an address, prefix in CIDR form: "1.1.1.2/24".
  void add_ip(1: string ifname, 2: string prefix) throws (1: common.ApiErr err)

  // del_ip removes an address given to ifname by add_ip.
  void del_ip(1: string ifname, 2: string prefix) throws (1: common.ApiErr err)

  // set_host_owned switches ifname's host-owned-addresses mode. On, the
  // addresses belong to the Linux host (a routing daemon's BGP session):
  // R2 answers neither ARP nor neighbour solicitations for them and drops
  // (counted) packets addressed to them, which the kernel receives and
  // answers from its own copy; R2 still forwards and sends ICMP errors.
  void set_host_owned(1: string ifname, 2: bool on) throws (1: common.ApiErr err)
  // add_neighbour sets the MAC of addr (IPv4 or IPv6, on a connected
  // subnet of ifname, or IPv6 link-local) on ifname, replacing what R2
  // had: a neighbour that never ages and that learning does not
  // overwrite. kind: "static" (or "") for an operator's, "kernel" for one
  // the kernel follower mirrors (its resyncs touch only those; a kernel
  // entry does not replace a static one: EXISTS).
  void add_neighbour(1: string ifname, 2: string addr, 3: string mac, 4: string kind) throws (1: common.ApiErr err)

  // del_neighbour removes R2's neighbour addr on ifname, whatever its kind.
  void del_neighbour(1: string ifname, 2: string addr) throws (1: common.ApiErr err)

  // add_neighbours is add_neighbour for many (ifname, addr, mac, kind of
  // each Neighbour; the other fields are ignored), all or nothing: the
  // kernel follower's batches.
  void add_neighbours(1: list<Neighbour> ns) throws (1: common.ApiErr err)

  // del_neighbours is del_neighbour for many (ifname, addr), all or
  // nothing.
  void del_neighbours(1: list<Neighbour> ns) throws (1: common.ApiErr err)

  // show_neighbours lists the neighbours of ifname ("": every interface),
  // learned, static and kernel, by interface and address.
  list<Neighbour> show_neighbours(1: string ifname) throws (1: common.ApiErr err)

  // show describes ifname, or every interface when ifname is "".
  list<IfInfo> show(1: string ifname) throws (1: common.ApiErr err)

  // set_qos sets ifname's link rate in bits/s (the root class); 0 removes
  // its QoS (classes, rules, default), freeing what is queued.
  void set_qos(1: string ifname, 2: i64 rate) throws (1: common.ApiErr err)

  // add_class adds an HFSC class below parent ("root" for the top), or
  // changes the curves and qlimit of an existing one. Rates are bits/s,
  // d in ms; qlimit 0 is the default (128) for leaves.
  void add_class(1: string ifname, 2: string name, 3: string parent, 4: i32 qlimit,
                 5: bool is_leaf, 6: Curves curves) throws (1: common.ApiErr err)

  // del_class deletes a class without children, rules or default use; its
  // queued packets are freed and counted as its drops.
  void del_class(1: string ifname, 2: string name) throws (1: common.ApiErr err)

  // add_rule adds a classifier rule (prio unique per interface).
  void add_rule(1: string ifname, 2: ClassRule rule) throws (1: common.ApiErr err)

  // del_rule deletes the rule with priority prio.
  void del_rule(1: string ifname, 2: i32 prio) throws (1: common.ApiErr err)

  // set_default_class names the leaf unmatched packets go to; scheduling
  // is active while there is one ("" clears it).
  void set_default_class(1: string ifname, 2: string name) throws (1: common.ApiErr err)

  // show_qos describes ifname's QoS: rate, classes with their state, rules.
  QosInfo show_qos(1: string ifname) throws (1: common.ApiErr err)
}
