// Package router is R2's control-side policy: what the operator's requests
// mean for the forwarding state. It owns the route tables (the double-copy
// RIBs), the interface configuration snapshots and the neighbours (learned,
// static, and the kernel follower's; neigh.go);
// it turns an interface address into the connected, local and broadcast
// routes it implies, validates routes against the interfaces (an off-link
// next hop, a prefix with host bits set, a route over a connected subnet
// are refused with a message that says so), relays neighbours that one
// thread learned to all of them, and keeps multipath groups off next hops
// whose neighbour failed.
//
// The engine (package engine) runs the threads and carries the router's
// decisions to them as control messages; the API server (package api) and
// the daemon call the router. Requests and results use the types of
// package ctl, and every refusal wraps one of ctl's error kinds and leaves
// the state exactly as it was.
package router
