// Types shared by every R2 API service.
//
// R2's control plane is a set of Thrift services multiplexed on one socket
// (TMultiplexedProtocol service names "Interface", "Route", "Log" and
// "Graph"), spoken with the strict binary protocol over the framed
// transport. By default the daemon listens on the Unix socket
// /run/r2/<instance>.sock.

namespace go common
namespace py r2api.common

// ErrKind classifies a refusal so that scripts need not parse why.
enum ErrKind {
  UNKNOWN = 0,    // not classified
  INVALID = 1,    // the request is malformed or contradicts itself
  NOT_FOUND = 2,  // it names something that does not exist
  EXISTS = 3,     // it would create something that exists
  BUSY = 4,       // the router cannot take it now (shutting down, limits)
  INTERNAL = 5,   // a bug or a system failure
}

// ApiErr is the exception every R2 method throws when it refuses a request.
// The request left the router exactly as it was; why says what was wrong,
// kind what sort of refusal it is.
exception ApiErr {
  1: string why
  2: ErrKind kind = ErrKind.UNKNOWN
}
