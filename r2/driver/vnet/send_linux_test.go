//go:build linux

package vnet

import (
	"strings"
	"testing"
)

// TestOpenBadIfindex: an interface that does not exist is an error that
// says where, and nothing stays open.
func TestOpenBadIfindex(t *testing.T) {
	s, err := Open(1 << 30)
	if err == nil || !strings.Contains(err.Error(), "bind to ifindex") {
		t.Errorf("Open of a missing interface: %v, %v", s, err)
	}
	var nilSender *Sender
	if nilSender.Close() != nil {
		t.Error("Close of a nil Sender")
	}
}
