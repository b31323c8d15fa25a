// Package mem is an in-memory R2 driver for tests and benchmarks.
//
// Frames are injected from any goroutine (Inject) and collected from any
// goroutine (Frames, or a Tx callback); the owner thread's Recv and Send
// see them as an interface would. A generator mode replays template frames
// forever without allocating, for benchmarks of the whole forwarding path.
package mem
