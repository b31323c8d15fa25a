//go:build !race

package fwd

// raceEnabled lets the slowest tests check fewer (sampled) cases under the
// race detector, which makes every table access an instrumented call.
const raceEnabled = false
