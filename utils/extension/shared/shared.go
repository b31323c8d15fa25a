// Package shared holds what the two example extensions agree on: store
// keys and the layout of the table behind them. It is a convention, like a
// header both sides include; neither extension imports the other.
package shared

import "github.com/r2go/r2/r2/store"

const (
	// KeySrcCounts is a per-thread store.Table of TableSize cells: packets
	// seen per source /24, at index Slot(source).
	KeySrcCounts store.Key = 0x5245_0001
	// KeySrcLimit is a published uint64: the most packets a source /24 may
	// send through one thread (0: no limit).
	KeySrcLimit store.Key = 0x5245_0002
	// TableSize is the number of cells of KeySrcCounts (a power of two).
	TableSize = 1 << 16
)

// Slot is the cell of an IPv4 source address (host order): its /24.
func Slot(src uint32) int { return int(src>>8) & (TableSize - 1) }
