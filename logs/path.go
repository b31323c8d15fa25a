package logs

// ShmDir is the directory of the shared-memory files of R2 instances.
const ShmDir = "/dev/shm"

// InstanceFile is the base name of the log file of an R2 instance:
// r2-<instance>-logs.
func InstanceFile(instance string) string { return "r2-" + instance + "-logs" }

// InstancePath is the log file of an R2 instance, the one the daemon creates
// and r2log reads: /dev/shm/r2-<instance>-logs.
func InstancePath(instance string) string { return ShmDir + "/" + InstanceFile(instance) }
