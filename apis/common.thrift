// Types shared by every R2 API service.
//
// R2's control plane is a set of Thrift services multiplexed on one socket
// (TMultiplexedProtocol service names "Interface", "Route" and "Log"), spoken
// with the strict binary protocol over the framed transport. By default the
// daemon listens on the Unix socket /run/r2/<instance>.sock.

namespace go common
namespace py r2api.common

// ApiErr is the exception every R2 method throws when it refuses a request.
// The request left the router exactly as it was; why says what was wrong.
exception ApiErr {
  1: string why
}
