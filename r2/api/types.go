package api

import (
	"path/filepath"

	"github.com/r2go/r2/r2/ctl"
	"github.com/r2go/r2/r2/router"
)

// Backend is the router's control side as the API server sees it: the
// router's policy methods (router.API, where new methods go) plus what the
// daemon itself decides (attaching Linux interfaces, the log switch). The
// server validates every argument before calling a method and calls at most
// one method at a time. A returned error is sent to the client as an ApiErr
// carrying err.Error() and the ctl error kind it wraps, so it should say
// what was wrong in terms the operator understands. A method that returns
// an error must leave the state unchanged.
type Backend interface {
	router.API

	// AddInterface attaches a Linux interface to the router.
	AddInterface(req AddIf) error
	// DelInterface detaches the interface called name.
	DelInterface(name string) error

	// LogEnable turns the forwarding-path logger on.
	LogEnable() error
	// LogDisable turns it off.
	LogDisable() error
	// LogClear empties it.
	LogClear() error
	// LogEnabled reports whether it is on.
	LogEnabled() bool
}

// The request and result types are package ctl's, shared with the router
// and the utilities.
type (
	// AddIf is a request to attach a Linux interface.
	AddIf = ctl.AddIf
	// IfInfo describes one interface.
	IfInfo = ctl.IfInfo
	// Route is one route.
	Route = ctl.Route
)

// Route kinds.
const (
	KindConnected = ctl.KindConnected
	KindLocal     = ctl.KindLocal
	KindGateway   = ctl.KindGateway
)

// Limits on requests, checked before the backend is called.
const (
	// MaxIfindex is the largest R2 interface index a client may ask for.
	// R2 indexes per-interface tables by it, so it stays small.
	MaxIfindex = 4095
	// MaxThread is the largest thread number a client may ask for.
	MaxThread = 1023
	// MaxIfnameLen is Linux's limit (IFNAMSIZ - 1).
	MaxIfnameLen = 15
	// MaxPage is the most routes Route.show returns in one call. The real
	// cap may be lower: a page must fit in one frame (see pageCap).
	MaxPage = 10000
	// MaxBatch is the most routes add_batch and del_batch accept per call.
	// In practice the frame size binds first: about 10000 IPv4 routes fit
	// in the default 1 MiB.
	MaxBatch = 65536
)

// SocketDir is where instances put their API sockets.
const SocketDir = "/run/r2"

// DefaultInstance is the name of the instance utilities talk to by default.
const DefaultInstance = "default"

// SocketPath returns the API socket path of instance: /run/r2/<instance>.sock.
// An empty instance means DefaultInstance.
func SocketPath(instance string) string {
	if instance == "" {
		instance = DefaultInstance
	}
	return filepath.Join(SocketDir, instance+".sock")
}
