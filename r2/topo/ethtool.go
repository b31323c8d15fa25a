//go:build linux

package topo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/r2go/r2/r2/internal/netnsx"
)

// From linux/ethtool.h, not in x/sys/unix.
const (
	ethSSFeatures  = 4  // ETH_SS_FEATURES: the string set of feature names
	ethGStringLen  = 32 // ETH_GSTRING_LEN
	featureBlkBits = 32 // features per ethtool_{get,set}_features_block
)

// offloadGroup is one offload as `ethtool -k` shows it on a top-level line,
// with the kernel features (netdev_features_strings) it stands for. It is on
// when any of them is active.
type offloadGroup struct {
	Name    string
	Members func(feature string) bool
}

// offloadGroups are the offloads turned off when Config.Offloads is false.
// Groups, not the legacy ETHTOOL_STSO-style commands, because those miss
// members added by newer kernels (tx-tcp-accecn-segmentation in 6.18).
var offloadGroups = []offloadGroup{
	{"rx-checksumming", is("rx-checksum")},
	{"tx-checksumming", func(f string) bool { return strings.HasPrefix(f, "tx-checksum-") }},
	{"tcp-segmentation-offload", func(f string) bool {
		return strings.HasPrefix(f, "tx-tcp") && strings.HasSuffix(f, "-segmentation")
	}},
	{"tx-udp-segmentation", is("tx-udp-segmentation")},
	{"generic-segmentation-offload", is("tx-generic-segmentation")},
	{"generic-receive-offload", is("rx-gro")},
	{"rx-gro-list", is("rx-gro-list")},
	{"rx-udp-gro-forwarding", is("rx-udp-gro-forwarding")},
	{"large-receive-offload", is("rx-lro")},
}

func is(name string) func(string) bool {
	return func(f string) bool { return f == name }
}

// features is the feature state of one interface.
type features struct {
	names     []string
	available []bool // changeable (hw_features)
	active    []bool
}

// ethtoolSocket opens the datagram socket that carries SIOCETHTOOL inside
// ns. A socket stays in the namespace it was created in, so only the
// creation needs the namespace switch.
func ethtoolSocket(ns netns.NsHandle) (int, error) {
	fd := -1
	err := netnsx.InNS(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("ethtool socket: %w", err)
	}
	return fd, nil
}

// getFeatures reads the names (ETHTOOL_GSTRINGS) and state
// (ETHTOOL_GFEATURES) of all features of ifname.
func getFeatures(fd int, ifname string) (*features, error) {
	ne := binary.NativeEndian
	// struct ethtool_sset_info: cmd, reserved, u64 sset_mask, u32 data[1].
	info := make([]byte, 20)
	ne.PutUint32(info[0:], unix.ETHTOOL_GSSET_INFO)
	ne.PutUint64(info[8:], 1<<ethSSFeatures)
	if _, err := ethtoolIoctl(fd, ifname, info); err != nil {
		return nil, fmt.Errorf("ETHTOOL_GSSET_INFO: %w", err)
	}
	if ne.Uint64(info[8:]) == 0 {
		return nil, fmt.Errorf("ETHTOOL_GSSET_INFO: no feature strings")
	}
	n := int(ne.Uint32(info[16:]))

	// struct ethtool_gstrings: cmd, string_set, len, data[len*32].
	strs := make([]byte, 12+n*ethGStringLen)
	ne.PutUint32(strs[0:], unix.ETHTOOL_GSTRINGS)
	ne.PutUint32(strs[4:], ethSSFeatures)
	ne.PutUint32(strs[8:], uint32(n))
	if _, err := ethtoolIoctl(fd, ifname, strs); err != nil {
		return nil, fmt.Errorf("ETHTOOL_GSTRINGS: %w", err)
	}
	f := &features{names: make([]string, n), available: make([]bool, n), active: make([]bool, n)}
	for i := range n {
		s := strs[12+i*ethGStringLen : 12+(i+1)*ethGStringLen]
		if j := bytes.IndexByte(s, 0); j >= 0 {
			s = s[:j]
		}
		f.names[i] = string(s)
	}

	// struct ethtool_gfeatures: cmd, size, blocks of
	// {available, requested, active, never_changed}.
	blocks := (n + featureBlkBits - 1) / featureBlkBits
	gf := make([]byte, 8+blocks*16)
	ne.PutUint32(gf[0:], unix.ETHTOOL_GFEATURES)
	ne.PutUint32(gf[4:], uint32(blocks))
	if _, err := ethtoolIoctl(fd, ifname, gf); err != nil {
		return nil, fmt.Errorf("ETHTOOL_GFEATURES: %w", err)
	}
	for i := range n {
		blk := gf[8+(i/featureBlkBits)*16:]
		bit := uint32(1) << (i % featureBlkBits)
		f.available[i] = ne.Uint32(blk[0:])&bit != 0
		f.active[i] = ne.Uint32(blk[8:])&bit != 0
	}
	return f, nil
}

// groupsOn reports, for each offload group, whether any member is active.
func (f *features) groupsOn() map[string]bool {
	m := make(map[string]bool, len(offloadGroups))
	for _, g := range offloadGroups {
		m[g.Name] = false
		for i, name := range f.names {
			if g.Members(name) && f.active[i] {
				m[g.Name] = true
			}
		}
	}
	return m
}

// getOffloads reads the offload groups of ifname in ns.
func getOffloads(ns netns.NsHandle, ifname string) (map[string]bool, error) {
	fd, err := ethtoolSocket(ns)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	f, err := getFeatures(fd, ifname)
	if err != nil {
		return nil, fmt.Errorf("ethtool -k %s: %w", ifname, err)
	}
	return f.groupsOn(), nil
}

// disableOffloads turns every changeable member of offloadGroups off on
// ifname in ns (like `ethtool -K ifname rx off tx off tso off ...`) and
// checks that none is active afterwards.
func disableOffloads(ns netns.NsHandle, ifname string) error {
	fd, err := ethtoolSocket(ns)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	f, err := getFeatures(fd, ifname)
	if err != nil {
		return fmt.Errorf("ethtool -k %s: %w", ifname, err)
	}
	ne := binary.NativeEndian
	// struct ethtool_sfeatures: cmd, size, blocks of {valid, requested};
	// requested stays 0 (off) for every valid bit.
	blocks := (len(f.names) + featureBlkBits - 1) / featureBlkBits
	sf := make([]byte, 8+blocks*8)
	ne.PutUint32(sf[0:], unix.ETHTOOL_SFEATURES)
	ne.PutUint32(sf[4:], uint32(blocks))
	for i, name := range f.names {
		if !f.available[i] {
			continue
		}
		for _, g := range offloadGroups {
			if g.Members(name) {
				off := 8 + (i/featureBlkBits)*8
				ne.PutUint32(sf[off:], ne.Uint32(sf[off:])|1<<(i%featureBlkBits))
			}
		}
	}
	if _, err := ethtoolIoctl(fd, ifname, sf); err != nil {
		return fmt.Errorf("ethtool -K %s: ETHTOOL_SFEATURES: %w", ifname, err)
	}
	if f, err = getFeatures(fd, ifname); err != nil {
		return fmt.Errorf("ethtool -k %s: %w", ifname, err)
	}
	for g, on := range f.groupsOn() {
		if on {
			return fmt.Errorf("ethtool %s: %s still on after turning it off", ifname, g)
		}
	}
	return nil
}
