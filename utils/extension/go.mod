module example.com/r2ext

go 1.26.0

require github.com/r2go/r2 v0.0.0

require (
	github.com/apache/thrift v0.25.0 // indirect
	github.com/cilium/ebpf v0.22.0 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/vishvananda/netlink v1.3.1 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/r2go/r2 => ../..
