//go:build linux

package nstest

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// EtherType is the EtherType of test frames: IEEE's "local experimental"
// type, which no stack in the namespaces reacts to and GRO never merges.
const EtherType = 0x88b5

// Frame makes a frame of size bytes from src to dst with EtherType,
// carrying seq (big-endian, in the 4 bytes after the Ethernet header, if
// size allows) and a pattern derived from it.
func Frame(dst, src net.HardwareAddr, seq, size int) []byte {
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	f[12], f[13] = EtherType>>8, EtherType&0xff
	for i := 14; i < size; i++ {
		f[i] = byte(seq*7 + i)
	}
	if size >= 18 {
		binary.BigEndian.PutUint32(f[14:], uint32(seq))
	}
	return f
}

// RawSock is a plain AF_PACKET socket of the test, bound to one interface.
// Unless it is a tap, it receives only frames of EtherType, and only
// incoming ones (with PACKET_IGNORE_OUTGOING).
type RawSock struct {
	Fd int
}

// RawConfig is how OpenRaw sets up a socket.
type RawConfig struct {
	// Tap makes the socket receive all frames, outgoing ones included:
	// only ETH_P_ALL sockets see those.
	Tap bool
	// RcvBuf, if not 0, is the receive buffer size (SO_RCVBUF, capped at
	// net.core.rmem_max, or SO_RCVBUFFORCE with ForceRcvBuf).
	RcvBuf      int
	ForceRcvBuf bool
}

// OpenRaw opens a raw socket on ifindex inside ns and closes it when t
// ends.
func OpenRaw(t testing.TB, ns netns.NsHandle, ifindex int, c RawConfig) *RawSock {
	t.Helper()
	s := &RawSock{Fd: -1}
	err := InNS(ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		s.Fd = fd
		proto := uint16(EtherType)
		if c.Tap {
			proto = unix.ETH_P_ALL
		} else {
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
				return err
			}
		}
		if c.RcvBuf != 0 {
			opt := unix.SO_RCVBUF
			if c.ForceRcvBuf {
				opt = unix.SO_RCVBUFFORCE
			}
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, c.RcvBuf); err != nil {
				return err
			}
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex})
	})
	if s.Fd >= 0 {
		t.Cleanup(func() { unix.Close(s.Fd) })
	}
	if err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	return s
}

// htons converts v to network byte order.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// Send transmits frames.
func (s *RawSock) Send(t testing.TB, frames ...[]byte) {
	t.Helper()
	for i, f := range frames {
		if _, err := unix.Write(s.Fd, f); err != nil {
			t.Fatalf("raw send of frame %d (%d bytes): %v", i, len(f), err)
		}
	}
}

// Recv returns the frames received until want have come or timeout has
// passed since the last one.
func (s *RawSock) Recv(want int, timeout time.Duration) [][]byte {
	var got [][]byte
	buf := make([]byte, 65536)
	for len(got) < want {
		pfd := []unix.PollFd{{Fd: int32(s.Fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(timeout/time.Millisecond))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			break
		}
		m, _, err := unix.Recvfrom(s.Fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			continue
		}
		got = append(got, append([]byte(nil), buf[:m]...))
	}
	return got
}
