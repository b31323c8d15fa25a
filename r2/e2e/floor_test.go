//go:build linux

package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/topo"
)

// The floor: the smallest user-space IPv4 forwarder (two AF_PACKET
// sockets, recvfrom and sendto, one thread in epoll_pwait), on r2bench's
// topology. What it costs an idle ping is what any blocking user-space
// router pays on the machine, whatever its graph does (README, "A warm
// wait the runtime does not see"). raw waits through RawSyscall, which
// the Go runtime does not see.
type floorForwarder struct {
	stop chan struct{}
	done chan error
}

func startFloor(tp *topo.Topology, raw bool) (*floorForwarder, error) {
	// The hosts' gateways, statically: the floor answers no ARP.
	for _, c := range [][]string{
		{tp.H1NS, tp.RouterIPA.String(), tp.RouterMACA.String(), tp.H1If},
		{tp.H2NS, tp.RouterIPB.String(), tp.RouterMACB.String(), tp.H2If},
	} {
		if out, err := tp.Exec(c[0], "ip", "neigh", "replace", c[1], "lladdr", c[2], "dev", c[3], "nud", "permanent").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip neigh replace %s in %s: %v: %s", c[1], c[0], err, out)
		}
	}
	f := &floorForwarder{stop: make(chan struct{}), done: make(chan error, 1)}
	ready := make(chan error, 1)
	go f.run(tp, raw, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return f, nil
}

func floorSocket(ifname string) (int, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return -1, err
	}
	proto := int(uint16(unix.ETH_P_ALL)<<8 | uint16(unix.ETH_P_ALL)>>8)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// Its own sends are not frames to forward.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (f *floorForwarder) run(tp *topo.Topology, raw bool, ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n := runtime.NumCPU(); n > 1 {
		// As r2bench: the forwarder on CPU 1, generators elsewhere.
		var set unix.CPUSet
		set.Set(1)
		_ = unix.SchedSetaffinity(0, &set)
	}
	fa, err := floorSocket(tp.RouterIfA)
	if err != nil {
		ready <- err
		return
	}
	defer unix.Close(fa)
	fb, err := floorSocket(tp.RouterIfB)
	if err != nil {
		ready <- err
		return
	}
	defer unix.Close(fb)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		ready <- err
		return
	}
	defer unix.Close(ep)
	for _, fd := range []int{fa, fb} {
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			ready <- err
			return
		}
	}
	ready <- nil
	type side struct {
		in, out  int
		dst, src net.HardwareAddr
	}
	sides := [2]side{{fa, fb, tp.H2MAC, tp.RouterMACB}, {fb, fa, tp.H1MAC, tp.RouterMACA}}
	buf := make([]byte, 2048)
	ev := make([]unix.EpollEvent, 2)
	for {
		select {
		case <-f.stop:
			f.done <- nil
			return
		default:
		}
		for _, s := range sides {
			for {
				n, _, err := unix.Recvfrom(s.in, buf, unix.MSG_DONTWAIT)
				if err != nil {
					break
				}
				if n < 34 || binary.BigEndian.Uint16(buf[12:]) != unix.ETH_P_IP || buf[22] <= 1 {
					continue
				}
				copy(buf[0:6], s.dst)
				copy(buf[6:12], s.src)
				// TTL - 1, and the checksum by RFC 1624.
				buf[22]--
				sum := uint32(binary.BigEndian.Uint16(buf[24:])) + 0x0100
				binary.BigEndian.PutUint16(buf[24:], uint16(sum+sum>>16))
				_ = unix.Sendto(s.out, buf[:n], unix.MSG_DONTWAIT, nil)
			}
		}
		// A short timeout: stop is checked between waits.
		const timeoutMs = 100
		if raw {
			unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&ev[0])), uintptr(len(ev)), timeoutMs, 0, 0)
		} else {
			unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&ev[0])), uintptr(len(ev)), timeoutMs, 0, 0)
		}
	}
}

func (f *floorForwarder) close() error {
	close(f.stop)
	select {
	case err := <-f.done:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("the floor forwarder did not stop in 5 s")
	}
}

// The floor forwarder forwards (with either wait): every ping answered,
// with the TTL one lower, so r2bench-like measurements of it mean
// something.
func TestFloorForwarder(t *testing.T) {
	for _, raw := range []bool{false, true} {
		tp := newTopo(t)
		f, err := startFloor(tp, raw)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tp.Ping(tp.H1NS, tp.H2IP.String(), 20, 10*time.Millisecond)
		if cerr := f.close(); cerr != nil {
			t.Errorf("raw %v: stop: %v", raw, cerr)
		}
		if err != nil {
			t.Fatalf("raw %v: %v", raw, err)
		}
		if res.Received != 20 {
			t.Errorf("raw %v: %d of 20 pings answered through the floor forwarder:\n%s", raw, res.Received, res.Output)
		}
		t.Logf("raw %v: median RTT %v", raw, res.Percentile(50))
	}
}

// BenchmarkFloorPing: the idle ping (200 at 10 ms an iteration) through the
// kernel as router and through the floor forwarder with ordinary and raw
// waits; run with -benchtime=3x and compare rtt-median-us in the same run.
func BenchmarkFloorPing(b *testing.B) {
	for _, v := range []struct {
		name        string
		kernel, raw bool
	}{{"kernel", true, false}, {"floor", false, false}, {"floor-raw", false, true}} {
		b.Run(v.name, func(b *testing.B) {
			var medians []float64
			for range b.N {
				tp, err := topo.New(topo.Config{RouterNS: v.kernel})
				if err != nil {
					b.Fatal(err)
				}
				var f *floorForwarder
				if !v.kernel {
					if f, err = startFloor(tp, v.raw); err != nil {
						tp.Close()
						b.Fatal(err)
					}
				}
				res, err := tp.Ping(tp.H1NS, tp.H2IP.String(), 200, 10*time.Millisecond)
				if f != nil {
					f.close()
				}
				tp.Close()
				if err != nil {
					b.Fatal(err)
				}
				medians = append(medians, float64(res.Percentile(50))/1e3)
			}
			sum := 0.0
			for _, m := range medians {
				sum += m
			}
			b.ReportMetric(sum/float64(len(medians)), "rtt-median-us")
			b.ReportMetric(0, "ns/op")
		})
	}
}
