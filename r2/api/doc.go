// Package api is R2's control-plane server: it serves the Thrift services
// defined in apis/ (Interface, Route and Log, multiplexed on one socket) and
// turns each request into a call on a [Backend], the engine's control side.
//
// The layering is deliberate. This package owns everything about the wire:
// the listeners, per-connection goroutines, the Thrift configuration that
// bounds what a client can make the server allocate, timeouts, and the
// syntactic validation of every argument. A request that is malformed
// (a prefix that does not parse, an IPv6 address where IPv4 is needed, a route
// prefix with host bits set, a bad MAC, an out-of-range index...) is refused
// here with an [github.com/r2go/r2/apis/common.ApiErr] that says what was
// wrong, and the backend never sees it. The backend judges what only it can
// (does the interface exist, is the route already there) and its error text
// goes back to the client in an ApiErr too. Either way a refused request
// leaves the router exactly as it was.
//
// Backend calls are serialized: like R2's context lock, one request at a time
// changes the control-side state, whichever connection it came from. Reading
// and decoding requests happens concurrently, one goroutine per connection, so
// a client that stalls mid-message holds up nobody but itself (and is cut off
// after Options.SocketTimeout).
//
// Wire format: framed transport, strict binary protocol, service names
// "Interface", "Route" and "Log" (TMultiplexedProtocol). By default messages
// and frames are capped at 1 MiB and containers at 65536 elements; see
// [Options]. The default Unix socket of an instance is [SocketPath].
package api
