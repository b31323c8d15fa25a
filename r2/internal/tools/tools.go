//go:build tools

// Package tools pins modules that R2 needs before every importer exists, so
// that `go mod tidy` keeps them in go.mod.
package tools

import (
	_ "github.com/apache/thrift/lib/go/thrift"
	_ "github.com/cilium/ebpf"
	_ "github.com/gaissmai/bart"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/sys/unix"
)
