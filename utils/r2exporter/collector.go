package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/r2go/r2/counters"
)

// The metric scheme. A counter is named "NODE/WHAT" (counters package); a
// per-interface node is "KIND:IFNAME" (IfNode:veth0, EtherDecap:veth0).
// Labels: node is KIND (or the whole node name), interface is IFNAME ("" for
// nodes that are not per interface), what is WHAT, thread is the forwarding
// thread. Well-known counters get metrics of their own; everything else
// lands in a generic metric by kind, so a new counter in the daemon shows up
// without a change here. Label values come only from the counter directory,
// whose size the daemon bounds: there is one series per live counter and
// thread (two for packets+bytes), never one per address or packet.
var (
	labelsIf      = []string{"interface", "thread"}
	labelsNode    = []string{"node", "interface", "thread"}
	labelsGeneric = []string{"node", "interface", "what", "thread"}

	descUp       = prometheus.NewDesc("r2_up", "1 if the instance's counters file was read at this scrape, 0 if it is missing or unreadable (r2 not running).", nil, nil)
	descThreads  = prometheus.NewDesc("r2_threads", "Forwarding threads that own counters.", nil, nil)
	descCounters = prometheus.NewDesc("r2_counters", "Live counters in the counters file (all threads).", nil, nil)

	descRxPkts  = prometheus.NewDesc("r2_ifnode_rx_packets_total", "Packets received on an interface (IfNode:IF/rx).", labelsIf, nil)
	descRxBytes = prometheus.NewDesc("r2_ifnode_rx_bytes_total", "Bytes received on an interface (IfNode:IF/rx).", labelsIf, nil)
	descTxPkts  = prometheus.NewDesc("r2_ifnode_tx_packets_total", "Packets transmitted on an interface (IfNode:IF/tx).", labelsIf, nil)
	descTxBytes = prometheus.NewDesc("r2_ifnode_tx_bytes_total", "Bytes transmitted on an interface (IfNode:IF/tx).", labelsIf, nil)
	descFwdPkts = prometheus.NewDesc("r2_forwarded_packets_total", "Packets forwarded by an IP forwarding node (NODE/forwarded).", []string{"node", "thread"}, nil)
	descFwdByte = prometheus.NewDesc("r2_forwarded_bytes_total", "Bytes forwarded by an IP forwarding node (NODE/forwarded).", []string{"node", "thread"}, nil)
	descEnq     = prometheus.NewDesc("r2_node_enqueued_packets_total", "Packets queued to a node's dispatch vector (NODE/enq).", labelsNode, nil)
	descDropped = prometheus.NewDesc("r2_dropped_packets_total", "Packets freed by the Drop node, all reasons (Drop/pkts); the reasons are r2_node_events_total.", []string{"thread"}, nil)

	descCounter = prometheus.NewDesc("r2_node_events_total", "Any other single-value counter NODE/WHAT.", labelsGeneric, nil)
	descPkts    = prometheus.NewDesc("r2_node_packets_total", "Packets of any other packets+bytes counter NODE/WHAT.", labelsGeneric, nil)
	descBytes   = prometheus.NewDesc("r2_node_bytes_total", "Bytes of any other packets+bytes counter NODE/WHAT.", labelsGeneric, nil)
	descArray   = prometheus.NewDesc("r2_node_array_total", "Element index of an array counter NODE/WHAT.", append(labelsGeneric, "index"), nil)
)

var allDescs = []*prometheus.Desc{descUp, descThreads, descCounters, descRxPkts, descRxBytes, descTxPkts,
	descTxBytes, descFwdPkts, descFwdByte, descEnq, descDropped, descCounter, descPkts, descBytes, descArray}

// collector reads the counters file on every scrape. It opens, maps
// read-only, copies and unmaps the file each time (counters.ReadFile, as
// r2cnt does), so it never holds a mapping of a deleted file: the file a
// restarted daemon creates is read at the next scrape, and while the daemon
// is down r2_up is 0.
type collector struct {
	path string
	// logf reports changes of state (file appeared, vanished, replaced),
	// not every scrape.
	logf func(format string, args ...any)
	// state is what the last scrape found; the one-slot channel is its
	// lock, as concurrent scrapes call Collect concurrently.
	state chan fileState
}

type fileState struct {
	ino  uint64
	err  string
	seen bool
}

func newCollector(path string, logf func(string, ...any)) *collector {
	c := &collector{path: path, logf: logf, state: make(chan fileState, 1)}
	c.state <- fileState{}
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// templateThread is the thread of the counters of the graph the engine
// builds once and clones into every thread (thread -1, stored as uint32).
// That graph never forwards, so its counters stay zero and are not
// exported.
const templateThread = 1<<32 - 1

// key identifies one series: counters with the same name on the same thread
// are added up (as counters.Totals does), since a series may appear once.
type key struct {
	name   string
	thread int
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	es, ino, err := c.read()
	c.track(ino, err)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	sums := map[key][]uint64{}
	kinds := map[key]counters.Kind{}
	var order []key
	threads := map[int]bool{}
	for _, e := range es {
		if uint32(e.Thread) == templateThread {
			continue
		}
		k := key{e.Name, e.Thread}
		threads[e.Thread] = true
		prev, ok := sums[k]
		if !ok {
			sums[k] = append([]uint64(nil), e.Values...)
			kinds[k] = e.Kind
			order = append(order, k)
			continue
		}
		for i := range prev {
			if i < len(e.Values) {
				prev[i] += e.Values[i]
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(descThreads, prometheus.GaugeValue, float64(len(threads)))
	ch <- prometheus.MustNewConstMetric(descCounters, prometheus.GaugeValue, float64(len(es)))
	for _, k := range order {
		emit(ch, k.name, kinds[k], strconv.Itoa(k.thread), sums[k])
	}
}

// read reads the counters and the inode of the file read.
func (c *collector) read() ([]counters.Entry, uint64, error) {
	var ino uint64
	if st, err := os.Stat(c.path); err == nil {
		if s, ok := st.Sys().(*syscall.Stat_t); ok {
			ino = s.Ino
		}
	}
	es, err := counters.ReadFile(c.path)
	return es, ino, err
}

// track logs when the file appears, disappears or is replaced.
func (c *collector) track(ino uint64, err error) {
	st := <-c.state
	defer func() { c.state <- st }()
	switch {
	case err != nil:
		if !st.seen || st.err != err.Error() {
			c.logf("counters unavailable: %v", err)
		}
		st = fileState{err: err.Error(), seen: true}
	case !st.seen || st.err != "":
		c.logf("reading counters from %s (inode %d)", c.path, ino)
		st = fileState{ino: ino, seen: true}
	case st.ino != ino:
		c.logf("counters file %s replaced (inode %d -> %d): daemon restarted", c.path, st.ino, ino)
		st.ino = ino
	}
}

// splitName splits "KIND:IFNAME/WHAT" into node, interface and what.
func splitName(name string) (node, intf, what string) {
	node, what, ok := strings.Cut(name, "/")
	if !ok {
		what = ""
	}
	if n, i, ok := strings.Cut(node, ":"); ok {
		node, intf = n, i
	}
	return strings.ToValidUTF8(node, "?"), strings.ToValidUTF8(intf, "?"), strings.ToValidUTF8(what, "?")
}

func emit(ch chan<- prometheus.Metric, name string, kind counters.Kind, thread string, v []uint64) {
	node, intf, what := splitName(name)
	c := func(d *prometheus.Desc, x uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(x), labels...)
	}
	switch {
	case kind == counters.KindPktByte && len(v) == 2 && node == "IfNode" && intf != "" && what == "rx":
		c(descRxPkts, v[0], intf, thread)
		c(descRxBytes, v[1], intf, thread)
	case kind == counters.KindPktByte && len(v) == 2 && node == "IfNode" && intf != "" && what == "tx":
		c(descTxPkts, v[0], intf, thread)
		c(descTxBytes, v[1], intf, thread)
	case kind == counters.KindPktByte && len(v) == 2 && intf == "" && what == "forwarded":
		c(descFwdPkts, v[0], node, thread)
		c(descFwdByte, v[1], node, thread)
	case kind == counters.KindSingle && len(v) == 1 && what == "enq":
		c(descEnq, v[0], node, intf, thread)
	case kind == counters.KindSingle && len(v) == 1 && name == "Drop/pkts":
		c(descDropped, v[0], thread)
	case kind == counters.KindSingle && len(v) == 1:
		c(descCounter, v[0], node, intf, what, thread)
	case kind == counters.KindPktByte && len(v) == 2:
		c(descPkts, v[0], node, intf, what, thread)
		c(descBytes, v[1], node, intf, what, thread)
	default:
		for i, x := range v {
			c(descArray, x, node, intf, what, thread, strconv.Itoa(i))
		}
	}
}
