//go:build linux

package topo

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netns"

	"github.com/r2go/r2/r2/internal/netnsx"
)

// sysctl is one /proc/sys/net setting, Key relative to /proc/sys
// (for example "net/ipv6/conf/all/disable_ipv6").
type sysctl struct {
	Key, Value string
}

// writeSysctls writes the settings inside ns. /proc/sys/net resolves to the
// namespace of the thread that opens the file, so this must (and does) run on
// a thread switched into ns.
func writeSysctls(ns netns.NsHandle, settings []sysctl) error {
	return netnsx.InNS(ns, func() error {
		for _, s := range settings {
			p := filepath.Join("/proc/sys", s.Key)
			if err := os.WriteFile(p, []byte(s.Value), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", s.Key, s.Value, err)
			}
		}
		return nil
	})
}
