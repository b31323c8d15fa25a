// R2log shows the forwarding-path log of a running R2 and switches it on and
// off.
//
// Usage:
//
//	r2log [-i instance | -f file] show [-o FILE] [-n N]
//	r2log [-i instance] enable | disable | clear
//	r2log --help
//
// show maps the instance's log file, /dev/shm/r2-<instance>-logs (instance
// "default" unless -i says otherwise, or the file given with -f), read-only
// and prints the entries of every forwarding thread, merged by time, oldest
// first, as JSON lines:
//
//	{"time":"2024-05-06T07:08:09.123456789Z","thread":0,"msg":"..."}
//
// It asks the daemon nothing and never slows the forwarding threads. -o
// writes the lines to a file instead of standard output; -n N keeps only the
// newest N entries.
//
// enable, disable and clear go through the daemon's Thrift Log API, since
// only the daemon may write the file's control words.
//
// The exit status is 0 on success, 1 on a failure (no log file, no daemon)
// and 2 on a usage error.
package main
