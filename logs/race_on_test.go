//go:build race

package logs

// raceEnabled shortens stress tests under the race detector, which slows
// every memory access several times.
const raceEnabled = true
