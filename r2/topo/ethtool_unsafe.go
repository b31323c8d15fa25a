//go:build linux

package topo

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ifreqPtr is struct ifreq with its union used as a data pointer
// (ifr_data), as SIOCETHTOOL expects.
type ifreqPtr struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// ethtoolIoctl issues SIOCETHTOOL on ifname through the socket fd (whose
// network namespace decides which ifname is meant). buf is the ethtool
// command structure, starting with its u32 cmd; the kernel reads and writes
// it in place. It returns the ioctl's non-negative return value.
func ethtoolIoctl(fd int, ifname string, buf []byte) (int, error) {
	var ifr ifreqPtr
	copy(ifr.name[:unix.IFNAMSIZ-1], ifname)
	ifr.data = unsafe.Pointer(unsafe.SliceData(buf))
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(buf)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
