// Route: the IPv4 routing table.

include "common.thrift"

namespace go route
namespace py r2api.route

// RouteEntry is one route.
struct RouteEntry {
  1: string prefix   // "10.1.1.0/24"; host bits must be zero
  2: string nexthop  // "10.2.0.1"; "" for a connected route
  3: string ifname   // output interface
  4: string kind     // "connected", "local", "gateway" or "drop" (no next hop,
                     // no interface: dropped with an ICMP unreachable); ""
                     // on input derives it: "gateway" with a next hop,
                     // "connected" without
  5: optional list<PathEntry> paths  // two or more: a multipath route (ECMP), spread per
                            // flow; nexthop and ifname are then paths[0]'s
                            // (and may be left empty in a request)
}

// PathEntry is one next hop of a multipath (ECMP) route.
struct PathEntry {
  1: string nexthop  // "" for a directly connected path
  2: string ifname
  3: i32 weight      // 1..256; 0 means 1
}

// RoutePage is one page of the routing table, in table order.
struct RoutePage {
  1: i64 total                 // routes in the whole table
  2: list<RouteEntry> routes   // the page
}

service Route {
  // add_route adds one route.
  void add_route(1: RouteEntry route) throws (1: common.ApiErr err)

  // del_route removes the route for route.prefix.
  void del_route(1: RouteEntry route) throws (1: common.ApiErr err)

  // add_batch adds routes, all or nothing. Keep a call under the server's
  // frame size (1 MiB by default): 10000 IPv4 routes per call fit.
  void add_batch(1: list<RouteEntry> routes) throws (1: common.ApiErr err)

  // del_batch removes routes, all or nothing.
  void del_batch(1: list<RouteEntry> routes) throws (1: common.ApiErr err)

  // lookup returns the longest-prefix match for one address, "3.1.1.1".
  RouteEntry lookup(1: string address) throws (1: common.ApiErr err)

  // show returns up to limit routes starting at offset. The server caps
  // limit (and 0 asks for the cap), so page on the number of routes returned.
  RoutePage show(1: i64 offset, 2: i64 limit) throws (1: common.ApiErr err)
}
