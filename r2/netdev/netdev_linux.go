//go:build linux

package netdev

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// watchRcvBuf is the receive buffer of Watch's netlink socket. Link events
// come in bursts (a veth pair, a namespace being torn down, every VLAN of
// a trunk); an overflow loses events and ends Watch, so ask for plenty.
const watchRcvBuf = 1 << 20

// lookupError is an error with its own message that wraps a sentinel, so
// the message need not repeat the sentinel's text.
type lookupError struct {
	msg string
	err error
}

func (e *lookupError) Error() string { return e.msg }
func (e *lookupError) Unwrap() error { return e.err }

// Lookup returns the facts about the Ethernet interface name in the calling
// thread's network namespace. The error wraps ErrNoSuchInterface if there
// is no such interface, and ErrNotEthernet if it is not Ethernet.
func Lookup(name string) (Info, error) {
	if name == "" || len(name) >= unix.IFNAMSIZ {
		return Info{}, &lookupError{fmt.Sprintf("netdev: no interface named %q (names are 1 to %d bytes)", name, unix.IFNAMSIZ-1), ErrNoSuchInterface}
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return Info{}, &lookupError{fmt.Sprintf("netdev: no interface named %q", name), ErrNoSuchInterface}
		}
		return Info{}, fmt.Errorf("netdev: look up interface %q: %w", name, err)
	}
	a := l.Attrs()
	if a.EncapType != "ether" || len(a.HardwareAddr) != 6 {
		return Info{}, &lookupError{fmt.Sprintf("netdev: %s is not an Ethernet interface (link type %q, %d-byte address)", name, a.EncapType, len(a.HardwareAddr)), ErrNotEthernet}
	}
	return Info{
		Name:   a.Name,
		Index:  a.Index,
		MAC:    a.HardwareAddr,
		MTU:    a.MTU,
		Up:     a.Flags&net.FlagUp != 0,
		OperUp: operUp(a),
	}, nil
}

// operUp is the kernel's netif_oper_up, for an administratively up link.
func operUp(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
}

// Watch reports interfaces of the calling thread's network namespace to f:
// first every existing interface once, in its current state, then every
// change of one: a new interface, deletion, up or down (administrative or
// operational), MTU, rename. Changes of anything else are not reported.
// Starting with the current state means a caller never misses a change
// that happened between reading the state and watching it. Changes made
// while Watch starts may be reported after the initial state that already
// includes them (an interface may appear to go down and up again); the
// last event about an interface is always its current state.
//
// f runs on the caller's goroutine, one event at a time; Watch does not
// read further events while f runs. Watch returns nil when done is
// closed. It returns an error if it cannot subscribe or the subscription
// ends (a netlink receive buffer overflow loses events): the caller should
// watch again, which starts from the current state.
func Watch(done <-chan struct{}, f func(Event)) error {
	updates := make(chan netlink.LinkUpdate, 64)
	stop := make(chan struct{})
	var (
		mu      sync.Mutex
		lastErr error
	)
	opts := netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			mu.Lock()
			lastErr = err
			mu.Unlock()
		},
	}
	if canForceRcvBuf() {
		opts.ReceiveBufferSize, opts.ReceiveBufferForceSize = watchRcvBuf, true
	}
	err := netlink.LinkSubscribeWithOptions(updates, stop, opts)
	if err != nil {
		close(stop)
		return fmt.Errorf("netdev: subscribe to link changes: %w", err)
	}
	defer func() {
		// Closing stop closes the socket; the library's reader then
		// fails, closes updates and exits. Drain so it never blocks.
		close(stop)
		for range updates {
		}
	}()
	// The current state, read after subscribing so that no change is
	// missed. (The library's ListExisting would send the dump request
	// on the subscription socket, addressed to the multicast group,
	// which needs CAP_NET_ADMIN.)
	select {
	case <-done:
		return nil
	default:
	}
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("netdev: list interfaces: %w", err)
	}
	last := make(map[int]Event, len(links))
	for _, l := range links {
		ev := eventOf(l, false)
		last[ev.Index] = ev
		f(ev)
	}
	for {
		select {
		case <-done:
			return nil
		case u, ok := <-updates:
			if !ok {
				select {
				case <-done:
					return nil
				default:
				}
				mu.Lock()
				err := lastErr
				mu.Unlock()
				if err == nil {
					err = errors.New("closed")
				}
				return fmt.Errorf("netdev: link subscription ended, events may be lost: %w", err)
			}
			ev := event(u)
			if ev.Deleted {
				delete(last, ev.Index)
			} else if prev, seen := last[ev.Index]; seen && prev == ev {
				continue // a change of something not reported
			} else {
				last[ev.Index] = ev
			}
			f(ev)
		}
	}
}

// event converts a link update.
func event(u netlink.LinkUpdate) Event {
	ev := eventOf(u.Link, u.Header.Type == unix.RTM_DELLINK)
	if ev.Index == 0 {
		ev.Index = int(u.IfInfomsg.Index)
	}
	return ev
}

// eventOf describes link l.
func eventOf(l netlink.Link, deleted bool) Event {
	a := l.Attrs()
	return Event{
		Name:    a.Name,
		Index:   a.Index,
		Deleted: deleted,
		Up:      a.Flags&net.FlagUp != 0,
		OperUp:  operUp(a),
		MTU:     a.MTU,
	}
}

// canForceRcvBuf reports whether SO_RCVBUFFORCE works here (it needs
// CAP_NET_ADMIN), tried on a throwaway socket: the netlink library leaks
// its socket if setting the size fails.
func canForceRcvBuf() bool {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, watchRcvBuf) == nil
}
