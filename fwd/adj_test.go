package fwd

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAdjKindString(t *testing.T) {
	tests := []struct {
		kind AdjKind
		want string
	}{
		{AdjDrop, "drop"},
		{AdjLocal, "local"},
		{AdjConnected, "connected"},
		{AdjGateway, "gateway"},
		{AdjKind(9), "AdjKind(9)"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("AdjKind(%d).String() = %q, want %q", uint8(tt.kind), got, tt.want)
		}
	}
}

func TestAdjacencyString(t *testing.T) {
	tests := []struct {
		adj  Adjacency
		want string
	}{
		{Adjacency{}, "drop"},
		{Adjacency{Kind: AdjLocal, Ifindex: 1}, "local if 1"},
		{Adjacency{Kind: AdjConnected, Ifindex: 2}, "connected if 2"},
		{Adjacency{Kind: AdjGateway, Ifindex: 2, NextHop: 0x0a020001}, "gateway 10.2.0.1 if 2"},
	}
	for _, tt := range tests {
		if got := tt.adj.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.adj, got, tt.want)
		}
	}
	r := Route{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Adj: Adjacency{Kind: AdjConnected, Ifindex: 3}}
	if got, want := r.String(), "10.1.0.0/16 connected if 3"; got != want {
		t.Errorf("Route.String() = %q, want %q", got, want)
	}
}

func TestAdjacencyValidate(t *testing.T) {
	tests := []struct {
		name    string
		adj     Adjacency
		wantErr string // "" means valid
	}{
		{"drop", Adjacency{}, ""},
		{"drop ignores fields", Adjacency{Kind: AdjDrop, Ifindex: -5, NextHop: 1}, ""},
		{"local", Adjacency{Kind: AdjLocal, Ifindex: 1}, ""},
		{"connected", Adjacency{Kind: AdjConnected, Ifindex: MaxIfindex - 1}, ""},
		{"gateway", Adjacency{Kind: AdjGateway, Ifindex: 0, NextHop: 0x0a000001}, ""},
		{"unknown kind", Adjacency{Kind: 7, Ifindex: 1}, "unknown adjacency kind 7"},
		{"negative ifindex", Adjacency{Kind: AdjConnected, Ifindex: -1}, "ifindex -1 out of range"},
		{"ifindex too big", Adjacency{Kind: AdjLocal, Ifindex: MaxIfindex}, "ifindex 1024 out of range"},
		{"gateway without next hop", Adjacency{Kind: AdjGateway, Ifindex: 1}, "needs a next hop"},
		{"connected with next hop", Adjacency{Kind: AdjConnected, Ifindex: 1, NextHop: 0x0a000001}, "must not have a next hop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.adj.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIPv4ToU32(t *testing.T) {
	tests := []struct {
		addr string
		want uint32
	}{
		{"0.0.0.0", 0},
		{"10.1.0.2", 0x0a010002},
		{"255.255.255.255", 0xffffffff},
		{"192.168.1.254", 0xc0a801fe},
		{"::ffff:10.1.0.2", 0x0a010002}, // IPv4-mapped: unmapped
		{"2001:db8::1", 0},              // IPv6: not an IPv4 address
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := IPv4ToU32(a); got != tt.want {
			t.Errorf("IPv4ToU32(%s) = %#x, want %#x", a, got, tt.want)
		}
		if a.Is4() {
			if back := U32ToIPv4(tt.want); back != a {
				t.Errorf("U32ToIPv4(%#x) = %s, want %s", tt.want, back, a)
			}
		}
	}
	if got := IPv4ToU32(netip.Addr{}); got != 0 {
		t.Errorf("IPv4ToU32(zero Addr) = %#x, want 0", got)
	}
}
