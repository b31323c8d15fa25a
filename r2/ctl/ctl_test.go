package ctl

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want ErrKind
	}{
		{"nil", nil, KindUnknown},
		{"plain", errors.New("x"), KindUnknown},
		{"wrapped invalid", fmt.Errorf("route x: %w", ErrInvalid), KindInvalid},
		{"twice wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", ErrNotFound)), KindNotFound},
		{"exists", fmt.Errorf("%w", ErrExists), KindExists},
		{"closed is busy", ErrClosed, KindBusy},
		{"Errorf", Errorf(KindInvalid, "bad %d", 1), KindInvalid},
		{"Errorf internal", Errorf(KindInternal, "boom"), KindInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.err); got != tc.want {
				t.Errorf("KindOf(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if e := Errorf(KindNotFound, "no route to %s", "1.2.3.4"); e.Error() != "no route to 1.2.3.4" {
		t.Errorf("text %q", e)
	}
}

func TestRouteString(t *testing.T) {
	p := netip.MustParsePrefix("10.0.0.0/8")
	for _, tc := range []struct {
		r    Route
		want string
	}{
		{Route{Prefix: p, NextHop: netip.MustParseAddr("10.1.0.1"), Ifname: "eth0"}, "10.0.0.0/8 via 10.1.0.1 dev eth0"},
		{Route{Prefix: p, Ifname: "eth0", Kind: KindConnected}, "10.0.0.0/8 connected dev eth0"},
		{Route{Prefix: p, Ifname: "eth0"}, "10.0.0.0/8 dev eth0"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
