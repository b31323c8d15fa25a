package poll

import "errors"

// ErrUnsupported is returned by the constructors on systems without eventfd
// and epoll (anything but Linux).
var ErrUnsupported = errors.ErrUnsupported

// cacheLine separates the Waker's producer-read flag from fields written on
// other paths; 128 because x86 prefetches cache lines in pairs.
const cacheLine = 128

// maxEvents is how many ready fds one Wait can report. A forwarding thread
// watches its Waker plus a handful of interfaces; 64 covers that with room
// to spare, and fds beyond it stay ready for the next Wait anyway.
const maxEvents = 64
