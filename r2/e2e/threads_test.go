//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/r2/topo"
)

// udpFlows and udpPerFlow size the UDP order test: 16 flows leave a
// fanout group of two sockets with both used except with probability
// 2^-15.
const udpFlows, udpPerFlow = 16, 500

// TestThreadsPerInterface serves both interfaces from threads 0 and 1
// (r2intf --threads, AF_PACKET fanout): pings pass, UDP flows arrive in
// order with both threads receiving, a TCP transfer arrives intact with
// no segment overtaken by a later one, and an interface deleted and
// added back under traffic works again.
func TestThreadsPerInterface(t *testing.T) {
	d := startR2(t, uniqueInstance(t), "-threads", "2")
	tp := newTopo(t)
	attachAll(t, d, tp, "--threads", "0,1")
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
	udpSpread(t, d, tp)
	tcpTransferInOrder(t, tp, 16<<20)
	readdUnderTraffic(t, d, tp, "--threads", "1,0")
	if _, errOut, code := d.run("r2intf", tp.RouterIfB+"x", "add", "auto", "--threads", "0,0"); code == 0 || !strings.Contains(errOut, "given twice") {
		t.Errorf("--threads 0,0: exit %d, %q; want a refusal naming the thread given twice", code, errOut)
	}
}

// udpSpread checks, with udpOrder, that UDP flows from h1 keep their
// order through R2 and are spread over threads 0 and 1 (both receive on
// tp's interface A).
func udpSpread(t *testing.T, d *daemon, tp *topo.Topology) {
	t.Helper()
	rx := "IfNode:" + tp.RouterIfA + "/rx"
	before := d.perThreadN(t, rx, 2)
	recv, reorders := udpOrder(t, tp)
	if reorders != 0 {
		t.Errorf("UDP: %d of %d frames arrived out of order within their flow", reorders, recv)
	}
	if recv < udpFlows*udpPerFlow/2 {
		t.Errorf("UDP: received %d of %d", recv, udpFlows*udpPerFlow)
	}
	after := d.perThreadN(t, rx, 2)
	t.Logf("UDP: %d received; %s rx per thread %d, %d", recv, tp.RouterIfA, after[0]-before[0], after[1]-before[1])
	for th := range 2 {
		if after[th]-before[th] == 0 {
			t.Errorf("thread %d received nothing on %s (per thread before %v after %v)", th, tp.RouterIfA, before, after)
		}
	}
}

// readdUnderTraffic deletes tp's interface A and adds it back ("add auto"
// and args, then its address) while UDP flows run, and pings through it.
func readdUnderTraffic(t *testing.T, d *daemon, tp *topo.Topology, args ...string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		udpSend(tp, 2000)
	}()
	d.must(t, "r2intf", tp.RouterIfA, "del")
	d.must(t, "r2intf", append([]string{tp.RouterIfA, "add", "auto"}, args...)...)
	d.must(t, "r2intf", tp.RouterIfA, "ip", "10.1.0.2/24")
	<-done
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 5)
}

// udpOrder sends udpFlows flows of udpPerFlow datagrams from h1 to h2 and
// returns how many arrived and how many arrived after a later one of their
// flow. env goes to the sender (R2E2E_SIZE=N: N-byte datagrams).
func udpOrder(t *testing.T, tp *topo.Topology, env ...string) (recv, reorders int) {
	t.Helper()
	srv, sout, serr := startListener(t, tp.H2NS, "udp-recv", "R2E2E_ADDR=10.2.0.1:5002")
	send := udpSendCmd(tp, udpPerFlow)
	send.Env = append(send.Env, env...)
	if out, err := send.CombinedOutput(); err != nil {
		t.Fatalf("udp sender: %v\n%s", err, out)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("udp receiver: %v\n%s", err, serr.String())
	}
	got := strings.TrimSpace(strings.TrimPrefix(sout.String(), "listening\n"))
	if _, err := fmt.Sscanf(got, "%d %d", &recv, &reorders); err != nil {
		t.Fatalf("udp receiver said %q: %v", got, err)
	}
	return recv, reorders
}

func udpSendCmd(tp *topo.Topology, perFlow int) *exec.Cmd {
	return inNS(tp.H1NS, "udp-send", "R2E2E_ADDR=10.2.0.1:5002", fmt.Sprintf("R2E2E_COUNT=%d", perFlow))
}

// udpSend sends in the background, ignoring errors (traffic only).
func udpSend(tp *topo.Topology, perFlow int) { _ = udpSendCmd(tp, perFlow).Run() }

// udpReceiver counts datagrams (flow, seq) until 2 s pass without one and
// prints "received reorders".
func udpReceiver(addr string) error {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.(*net.UDPConn).SetReadBuffer(8 << 20)
	fmt.Println("listening")
	last := map[uint32]uint32{}
	buf := make([]byte, 64)
	recv, reorders := 0, 0
	for {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			break
		}
		if n < 8 {
			continue
		}
		fl, seq := binary.BigEndian.Uint32(buf), binary.BigEndian.Uint32(buf[4:])
		if l, ok := last[fl]; ok && seq < l {
			reorders++
		} else {
			last[fl] = seq
		}
		recv++
	}
	fmt.Printf("%d %d\n", recv, reorders)
	return nil
}

// udpSender sends perFlow datagrams on each of udpFlows flows (source
// ports), round robin, pausing a little every 32 rounds; datagrams of
// R2E2E_SIZE bytes (32 without it).
func udpSender(addr string, perFlow int) error {
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	cs := make([]*net.UDPConn, udpFlows)
	for i := range cs {
		if cs[i], err = net.DialUDP("udp", nil, dst); err != nil {
			return err
		}
		defer cs[i].Close()
	}
	size, _ := strconv.Atoi(os.Getenv("R2E2E_SIZE"))
	b := make([]byte, max(size, 32))
	for seq := range perFlow {
		for i, c := range cs {
			binary.BigEndian.PutUint32(b, uint32(i))
			binary.BigEndian.PutUint32(b[4:], uint32(seq))
			c.Write(b)
		}
		if seq%32 == 31 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}
