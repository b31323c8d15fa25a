//go:build linux

package e2e

import (
	"encoding/json"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ifnode "github.com/r2go/r2/gnodes/interface"
	"github.com/r2go/r2/r2/names"
	"github.com/r2go/r2/r2/topo"
)

// TestShedding runs the daemon, for each driver, stopped for 15 ms of
// every 25 (SIGSTOP, SIGCONT: a router whose CPU is taken from it, as a
// busy or overcommitted host does), so that the flows below outrun it on
// any machine: the receive queue stands, which rx_shed_episodes counts.
// (Two processes spinning on its CPU did that on the machines of
// 2026-12-05 until one whose scheduler let R2 keep up with the floods.)
// Shedding then cuts back a flood of UDP datagrams whole (no TCP
// signals) while a ping beside it is spared; a flood of TCP segments that
// does not slow down is signalled four times an episode
// (rx_shed_tcp_signals) and then cut back like any heavy flow; a real TCP
// sender (iperf3) is signalled, at most four times an episode and once per
// rx_shed_interval_us, and its transfer goes on. It fails if the queue
// never stood (nothing would be tested).
func TestShedding(t *testing.T) {
	for _, drv := range []string{"afpacket", "afxdp"} {
		t.Run(drv, func(t *testing.T) { shedding(t, drv) })
	}
}

// shedding is TestShedding on driver drv.
func shedding(t *testing.T, drv string) {
	if runtime.NumCPU() < 2 {
		t.Fatalf("%d CPU: the test needs two, R2's and the senders'", runtime.NumCPU())
	}
	cpu := runtime.NumCPU() - 1
	d := startR2(t, uniqueInstance(t), "-cpus", strconv.Itoa(cpu))
	tp := newTopo(t)
	attachAll(t, d, tp, "--driver", drv)
	if show := d.must(t, "r2intf", "show"); strings.Count(show, drv) != 2 {
		t.Fatalf("interfaces not both on %s:\n%s", drv, show)
	}
	d.must(t, "r2rt", "route", "10.9.0.0/24", "10.2.0.1", tp.RouterIfB)
	pingOK(t, d, tp, tp.H1NS, "10.2.0.1", 2)
	startStutter(t, d.cmd.Process.Pid, 15*time.Millisecond, 10*time.Millisecond)

	// A phase's signals: at most four an episode (the floods and
	// iperf3 are one flow each: one meter bucket) and one per
	// rx_shed_interval_us (limit); a flow cut back loses more than
	// signals alone could take.
	type phase struct{ shed, episodes, signals, limit uint64 }
	measure := func(what string, run func()) phase {
		before := d.counters(t)
		start := time.Now()
		run()
		took := time.Since(start)
		after := d.counters(t)
		delta := func(c string) uint64 {
			k := names.IfNodeCounter(tp.RouterIfA, c)
			return firstOf(after[k]) - firstOf(before[k])
		}
		p := phase{delta(names.IfRxShed), delta(names.IfRxShedEpisodes), delta(names.IfRxShedSignals), uint64(took/ifnode.DefaultShedInterval) + 1}
		t.Logf("%s, %v: rx %d, rx_shed %d, rx_shed_episodes %d, rx_shed_tcp_signals %d", what,
			took.Round(time.Millisecond), delta(names.IfRx), p.shed, p.episodes, p.signals)
		if p.episodes == 0 {
			t.Errorf("%s: the receive queue of %s never stood while R2 was stopped and started: nothing tested", what, tp.RouterIfA)
		}
		if p.signals > 4*p.episodes || p.signals > p.limit {
			t.Errorf("%s: %d TCP signals in %d episodes: want at most 4 an episode and %d in all (one per rx_shed_interval_us)", what, p.signals, p.episodes, p.limit)
		}
		return p
	}
	var ping topo.PingResult
	udp := measure("UDP flood", func() {
		stop := startFloodProto(t, tp, "0", "udp")
		defer stop()
		time.Sleep(500 * time.Millisecond)
		var err error
		if ping, err = tp.Ping(tp.H1NS, "10.2.0.1", 40, 50*time.Millisecond); err != nil {
			t.Errorf("ping beside the UDP flood: %v", err)
		}
	})
	t.Logf("ping beside the UDP flood: %d of %d answered, median %v, max %v", ping.Received, ping.Transmitted, ping.Percentile(50), ping.Max)
	if udp.shed <= 3*udp.limit || udp.signals != 0 {
		t.Errorf("UDP flood: %d frames shed, %d of them TCP signals: want the flood cut back (more than %d), no signals", udp.shed, udp.signals, 3*udp.limit)
	}
	if ping.Received < ping.Transmitted*9/10 {
		t.Errorf("ping beside the shed flood: %d of %d answered: a light flow must be spared", ping.Received, ping.Transmitted)
	}
	flood := measure("TCP flood", func() {
		stop := startFloodProto(t, tp, "0", "tcp")
		time.Sleep(3 * time.Second)
		stop()
	})
	if flood.signals == 0 || flood.shed <= 3*flood.limit {
		t.Errorf("TCP flood: %d frames shed, %d of them signals: want signals, then the flood cut back (more than %d shed)",
			flood.shed, flood.signals, 3*flood.limit)
	}
	var gbps float64
	sender := measure("iperf3", func() { gbps = iperfTCP(t, tp, 3) })
	if sender.signals == 0 {
		t.Errorf("iperf3: no TCP signals in %d standing episodes", sender.episodes)
	}
	if gbps <= 0 {
		t.Errorf("iperf3 through the standing queue moved nothing")
	}
}

// startStutter stops process pid for stopFor, lets it run for runFor, and
// so on until t ends, when it is left running.
func startStutter(t *testing.T, pid int, stopFor, runFor time.Duration) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer syscall.Kill(pid, syscall.SIGCONT)
		for {
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-time.After(stopFor):
			}
			syscall.Kill(pid, syscall.SIGCONT)
			select {
			case <-done:
				return
			case <-time.After(runFor):
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		wg.Wait()
	})
}

// startFloodProto floods one flow of 64-byte UDP datagrams or TCP
// segments with ACK set from h1 to 10.9.0.1 with trafgen on cpu.
func startFloodProto(t *testing.T, tp *topo.Topology, cpu, proto string) (stop func()) {
	t.Helper()
	l4 := "udp(sp=1000, dp=9),\n  fill(0x00, 18)"
	if proto == "tcp" {
		l4 = "tcp(sp=1000, dp=9, seq=1, ackseq=1, ack, win=512),\n  fill(0x00, 6)"
	}
	return startFloodL4(t, tp, cpu, l4)
}

// startTrafgen starts gen, a trafgen command, in a process group of its
// own and returns what stops it: SIGINT to the group, since trafgen sends
// from a forked child that outlives its parent killed alone (and would
// flood the next measurement), SIGKILL after a second.
func startTrafgen(t *testing.T, gen *exec.Cmd) (stop func()) {
	t.Helper()
	gen.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := gen.Start(); err != nil {
		t.Fatalf("trafgen: %v", err)
	}
	done := make(chan struct{})
	go func() { gen.Wait(); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			pg := -gen.Process.Pid
			syscall.Kill(pg, syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(time.Second):
				syscall.Kill(pg, syscall.SIGKILL)
				<-done
			}
			// The group's last member (the sender) may outlive the
			// parent by a moment: make sure it is gone.
			syscall.Kill(pg, syscall.SIGKILL)
		})
	}
	t.Cleanup(stop)
	return stop
}

// iperfTCP runs one iperf3 TCP stream from h1 (on CPU 0) to h2 for secs
// seconds and returns its rate in Gbit/s, logging its retransmissions.
func iperfTCP(t *testing.T, tp *topo.Topology, secs int) float64 {
	t.Helper()
	srv := tp.Exec(tp.H2NS, "iperf3", "-s", "-1", "-p", "5201")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	time.Sleep(300 * time.Millisecond)
	out, err := tp.Exec(tp.H1NS, "taskset", "-c", "0", "iperf3", "-c", tp.H2IP.String(), "-p", "5201", "-t", strconv.Itoa(secs), "-J").Output()
	if err != nil {
		t.Fatalf("iperf3: %v\n%s", err, out)
	}
	var r struct {
		End struct {
			SumSent struct {
				Bytes       int64   `json:"bytes"`
				Retransmits int64   `json:"retransmits"`
				Bps         float64 `json:"bits_per_second"`
			} `json:"sum_sent"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("iperf3 JSON: %v\n%s", err, out)
	}
	t.Logf("iperf3: %.2f Gbit/s, %d retransmits", r.End.SumSent.Bps/1e9, r.End.SumSent.Retransmits)
	return r.End.SumSent.Bps / 1e9
}
