//go:build !linux

package netdev

// Lookup returns ErrUnsupported: rtnetlink exists on Linux only.
func Lookup(name string) (Info, error) { return Info{}, ErrUnsupported }

// Watch returns ErrUnsupported: rtnetlink exists on Linux only.
func Watch(done <-chan struct{}, f func(Event)) error { return ErrUnsupported }
