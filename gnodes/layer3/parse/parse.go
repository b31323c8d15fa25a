// Package parse is L3Parse: it identifies the layer 3 protocol of a frame
// EtherDecap passed up and validates IPv4 headers before forwarding looks at
// them.
//
// Checks, each with its own drop counter: version (bad_version), header
// length of at least 20 bytes (bad_ihl), total length of at least the header
// (bad_total_len), a header or total length beyond the frame (truncated;
// Ethernet padding beyond the total length is trimmed), and the header
// checksum (bad_checksum).
//
// Options are forwarded unchanged, except that a malformed option list is
// dropped (bad_options) and so are loose and strict source routes
// (source_route), as RFC 7126 recommends for routers: honouring them lets a
// sender steer traffic around filters. The scan runs only for headers
// longer than 20 bytes, which are rare.
//
// IPv6 goes to IPv6Fwd, which checks its own header (the checks differ:
// no header checksum, a chain of extension headers).
package parse

import (
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/graph"
	"github.com/r2go/r2/r2/hdr"
	"github.com/r2go/r2/r2/names"
)

const (
	nextDrop = iota // graph.Drop
	nextIPv4
	nextIPv6
	numNext
)

// Node is L3Parse.
type Node struct {
	graph.NoControl
	c cntrs
	// v6 counts IPv6 packets passed on in this Dispatch (one shared-memory
	// write per batch).
	v6 int
}

type cntrs struct {
	truncated, badVersion, badIHL, badTotalLen, badChecksum counters.Counter
	ipv6, unknownProto, badOptions, sourceRoute             counters.Counter
}

// New makes L3Parse.
func New() *Node { return &Node{} }

// Name implements graph.Node.
func (n *Node) Name() string { return names.L3Parse }

// NextNames implements graph.Node.
func (n *Node) NextNames() []string {
	return []string{nextDrop: names.Drop, nextIPv4: names.IPv4Fwd, nextIPv6: names.IPv6Fwd}
}

// Clone implements graph.Node.
func (n *Node) Clone(c *graph.CloneCtx) graph.Node {
	name := names.L3Parse
	return &Node{c: cntrs{
		truncated:    c.Counter(name, "truncated"),
		badVersion:   c.Counter(name, "bad_version"),
		badIHL:       c.Counter(name, "bad_ihl"),
		badTotalLen:  c.Counter(name, "bad_total_len"),
		badChecksum:  c.Counter(name, "bad_checksum"),
		ipv6:         c.Counter(name, "ipv6"), // passed to IPv6Fwd
		unknownProto: c.Counter(name, "unknown_proto"),
		badOptions:   c.Counter(name, "bad_options"),
		sourceRoute:  c.Counter(name, "source_route"),
	}}
}

// Dispatch implements graph.Node.
func (n *Node) Dispatch(d *graph.Dispatch) {
	for p := d.Pop(); p != nil; p = d.Pop() {
		// EtherDecap left the Ethernet type two bytes before the L3 header.
		etype := p.Uint16(p.Head() - 2)
		switch etype {
		case hdr.EtherTypeIPv4:
		case hdr.EtherTypeIPv6:
			n.v6++
			d.Push(nextIPv6, p)
			continue
		default:
			d.Drop(p, n.c.unknownProto)
			continue
		}
		data := p.Data()
		if len(data) < hdr.IPv4MinLen {
			d.Drop(p, n.c.truncated)
			continue
		}
		ip := hdr.IPv4(data)
		if ip.Version() != 4 {
			d.Drop(p, n.c.badVersion)
			continue
		}
		ihl := ip.HeaderLen()
		if ihl < hdr.IPv4MinLen {
			d.Drop(p, n.c.badIHL)
			continue
		}
		if ihl > len(data) {
			d.Drop(p, n.c.truncated)
			continue
		}
		total := ip.TotalLen()
		if total < ihl {
			d.Drop(p, n.c.badTotalLen)
			continue
		}
		if total > len(data) {
			d.Drop(p, n.c.truncated)
			continue
		}
		if !hdr.HeaderChecksumOK(data[:ihl]) {
			d.Drop(p, n.c.badChecksum)
			continue
		}
		if ihl > hdr.IPv4MinLen {
			switch checkOptions(data[hdr.IPv4MinLen:ihl]) {
			case optBad:
				d.Drop(p, n.c.badOptions)
				continue
			case optSourceRoute:
				d.Drop(p, n.c.sourceRoute)
				continue
			}
		}
		p.Trim(total) // drop Ethernet padding
		d.Push(nextIPv4, p)
	}
	if n.v6 > 0 {
		n.c.ipv6.Add(uint64(n.v6))
		n.v6 = 0
	}
}

var _ graph.Node = (*Node)(nil)

// Rank implements graph.Ranker.
func (n *Node) Rank() int { return graph.RankL3Parse }

// Results of checkOptions.
const (
	optOK = iota
	optBad
	optSourceRoute
)

// IPv4 option types that matter here (RFC 791).
const (
	optEnd  = 0
	optNop  = 1
	optLSRR = 131
	optSSRR = 137
)

// checkOptions walks an IPv4 option list: every option but End and No-op
// has a length byte of at least 2 that must fit the list.
func checkOptions(o []byte) int {
	for i := 0; i < len(o); {
		switch o[i] {
		case optEnd:
			return optOK
		case optNop:
			i++
			continue
		}
		if i+1 >= len(o) || o[i+1] < 2 || i+int(o[i+1]) > len(o) {
			return optBad
		}
		if o[i] == optLSRR || o[i] == optSSRR {
			return optSourceRoute
		}
		i += int(o[i+1])
	}
	return optOK
}
