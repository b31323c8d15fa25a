package counters

// ShmDir is the directory of the shared-memory files of R2 instances.
const ShmDir = "/dev/shm"

// InstanceFile is the base name of the counters file of an R2 instance:
// r2-<instance>-counters.
func InstanceFile(instance string) string { return "r2-" + instance + "-counters" }

// InstancePath is the counters file of an R2 instance, the one the daemon
// creates and r2cnt reads: /dev/shm/r2-<instance>-counters.
func InstancePath(instance string) string { return ShmDir + "/" + InstanceFile(instance) }
