//go:build !linux

package mem

// Without eventfd the driver has no pollable descriptor (Fd is -1); callers
// poll Pending instead.

func newEventfd() (int, error) { return -1, nil }
func signal(int)               {}
func reset(int, []byte)        {}
func closeFd(int) error        { return nil }
