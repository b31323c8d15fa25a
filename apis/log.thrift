// Log: the forwarding threads' packet logger.

include "common.thrift"

namespace go logapi
namespace py r2api.log

service Log {
  // enable starts logging on every forwarding thread.
  void enable() throws (1: common.ApiErr err)

  // disable stops logging.
  void disable() throws (1: common.ApiErr err)

  // clear empties every thread's log.
  void clear() throws (1: common.ApiErr err)

  // enabled reports whether logging is on.
  bool enabled() throws (1: common.ApiErr err)
}
