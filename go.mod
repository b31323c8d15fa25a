module github.com/r2go/r2

go 1.26.0

require (
	github.com/apache/thrift v0.25.0
	github.com/cilium/ebpf v0.22.0
	github.com/gaissmai/bart v0.30.0
	github.com/google/go-cmp v0.7.0
	github.com/vishvananda/netlink v1.3.1
	golang.org/x/sys v0.49.0
)

require github.com/vishvananda/netns v0.0.5

require golang.org/x/net v0.60.0
