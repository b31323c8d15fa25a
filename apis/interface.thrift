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

  // show describes ifname, or every interface when ifname is "".
  list<IfInfo> show(1: string ifname) throws (1: common.ApiErr err)
}
