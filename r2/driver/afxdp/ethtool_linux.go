//go:build linux

package afxdp

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// What Open and the registered open ask the device (SIOCETHTOOL, in the
// calling thread's network namespace).

// isVeth reports whether ifname is a veth end (ETHTOOL_GDRVINFO driver
// "veth"): its peer hands over frames with checksums left partial.
func isVeth(ifname string) bool {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	info, err := unix.IoctlGetEthtoolDrvinfo(fd, ifname)
	if err != nil {
		return false
	}
	return unix.ByteSliceToString(info.Driver[:]) == "veth"
}

// ethtoolChannels is struct ethtool_channels.
type ethtoolChannels struct {
	cmd                                         uint32
	maxRx, maxTx, maxOther, maxCombined         uint32
	rxCount, txCount, otherCount, combinedCount uint32
}

// ifreqData is struct ifreq with its union used as ifr_data.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// RxQueues is the number of receive queues of ifname that frames arrive
// on: ETHTOOL_GCHANNELS's combined plus Rx-only channels (veth reports its
// real Rx queues as Rx channels), 1 if the device does not say. Call it
// on a thread in the interface's network namespace.
func RxQueues(ifname string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ch := ethtoolChannels{cmd: unix.ETHTOOL_GCHANNELS}
	var ifr ifreqData
	copy(ifr.name[:unix.IFNAMSIZ-1], ifname)
	ifr.data = unsafe.Pointer(&ch)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&ch)
	switch e {
	case 0:
	case unix.EOPNOTSUPP:
		return 1, nil
	default:
		return 0, e
	}
	n := int(ch.combinedCount + ch.rxCount)
	if n < 1 {
		n = 1
	}
	return n, nil
}
