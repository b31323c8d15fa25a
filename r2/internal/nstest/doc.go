// Package nstest is test support for R2's packages that need real Linux
// interfaces: it builds throw-away network namespaces joined by veth pairs
// and sends and captures Ethernet frames on them with plain AF_PACKET
// sockets.
//
// Everything it creates is registered with the test's Cleanup and removed
// when the test ends, whether it passes or fails, so that `ip netns list`
// is empty again afterwards. Names are made of a per-run random prefix
// (UniquePrefix), so parallel runs and runs of different packages do not
// collide.
//
// Namespaces are entered only on a locked OS thread of a goroutine of their
// own (InNS), so the test's goroutines never run in the wrong namespace.
//
// The helpers need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); NeedRoot skips a
// test that runs without. The package is Linux-only: on other systems it
// is empty, and its importers are Linux-only test files.
package nstest
