//go:build linux

package topo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/r2go/r2/r2/internal/netnsx"
)

// usedPrefixes remembers what UniquePrefix handed out in this process.
var usedPrefixes = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// UniquePrefix returns a fresh prefix for Config.Prefix: "r2" and 6 random
// hex digits (8 characters, leaving room for the suffixes). It never returns
// the same prefix twice in a process, nor one whose names exist on the host.
func UniquePrefix() string {
	usedPrefixes.Lock()
	defer usedPrefixes.Unlock()
	for {
		var b [3]byte
		_, _ = rand.Read(b[:]) // never fails on Linux
		p := "r2" + hex.EncodeToString(b[:])
		if usedPrefixes.m[p] {
			continue
		}
		// An error (no netlink?) is New's to report, not a reason to
		// loop forever.
		if left, err := Leftovers(p); err == nil && len(left) > 0 {
			continue
		}
		usedPrefixes.m[p] = true
		return p
	}
}

// derivedNS returns every namespace name derived from prefix.
func derivedNS(prefix string) []string {
	return []string{prefix + sufH1NS, prefix + sufH2NS, prefix + sufRouterNS}
}

// derivedLinks returns every interface name derived from prefix.
func derivedLinks(prefix string) []string {
	return []string{prefix + sufRouterA, prefix + sufRouterB, prefix + sufH1If, prefix + sufH2If}
}

// Leftovers lists the namespaces ("netns NAME") and root-namespace
// interfaces ("link NAME") with names derived from prefix that exist now.
// Interfaces inside the namespaces are not listed: they go with them.
func Leftovers(prefix string) ([]string, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	var left []string
	for _, n := range derivedNS(prefix) {
		if netnsx.Exists(n) {
			left = append(left, "netns "+n)
		}
	}
	for _, n := range derivedLinks(prefix) {
		_, err := netlink.LinkByName(n)
		if err == nil {
			left = append(left, "link "+n)
			continue
		}
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return left, fmt.Errorf("look up link %s: %w", n, err)
		}
	}
	return left, nil
}

// Cleanup removes, best effort, whatever a topology with this prefix left
// behind (for example after a test binary was killed): its veth pairs, in the
// calling goroutine's namespace and inside its namespaces, and its
// namespaces. It touches only names derived from prefix, and in the root
// namespace only veth interfaces. The returned error lists what could not be
// removed; callers may ignore it.
func Cleanup(prefix string) error {
	if err := validPrefix(prefix); err != nil {
		return err
	}
	var errs []error
	for _, n := range derivedLinks(prefix) {
		l, err := netlink.LinkByName(n)
		if err != nil {
			continue
		}
		if _, ok := l.(*netlink.Veth); !ok {
			errs = append(errs, fmt.Errorf("link %s is a %s, not a veth: left alone", n, l.Type()))
			continue
		}
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete link %s: %w", n, err))
		}
	}
	for _, ns := range derivedNS(prefix) {
		if !netnsx.Exists(ns) {
			continue
		}
		// Delete the links inside first, so they are gone when Cleanup
		// returns (namespace teardown frees them asynchronously).
		if h, err := netns.GetFromName(ns); err == nil {
			if nl, err := netlink.NewHandleAt(h); err == nil {
				for _, n := range derivedLinks(prefix) {
					if err := delLink(nl, n); err != nil {
						errs = append(errs, fmt.Errorf("netns %s: %w", ns, err))
					}
				}
				nl.Close()
			}
			h.Close()
		}
		if err := netnsx.Delete(ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
