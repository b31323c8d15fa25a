package hfsc_test

import (
	"fmt"
	"time"

	"github.com/r2go/r2/r2/sched/hfsc"
)

// The owner thread's loop: queue what arrives, send what Dequeue releases,
// sleep until NextEvent.
func Example() {
	type frame struct {
		name string
		len  int
	}
	// A 10 Mbit/s link: voice gets 1 Mbit/s with low delay, web and bulk
	// share the rest 3:1, bulk never above 4 Mbit/s.
	s, err := hfsc.New[frame](10e6, func(f frame) int { return f.len })
	if err != nil {
		panic(err)
	}
	for _, c := range []hfsc.ClassConfig{
		{Name: "voice", Leaf: true, QLimit: 16, RT: &hfsc.Curve{M1: 4e6, D: 2 * time.Millisecond, M2: 1e6}},
		{Name: "data", LS: &hfsc.Curve{M1: 9e6, M2: 9e6}},
		{Name: "web", Parent: "data", Leaf: true, QLimit: 64, LS: &hfsc.Curve{M1: 6e6, M2: 6e6}},
		{Name: "bulk", Parent: "data", Leaf: true, QLimit: 64, LS: &hfsc.Curve{M1: 2e6, M2: 2e6}, UL: &hfsc.Curve{M1: 4e6, M2: 4e6}},
	} {
		if err := s.AddClass(c); err != nil {
			panic(err)
		}
	}
	bulk, _ := s.Lookup("bulk")
	voice, _ := s.Lookup("voice")
	var now int64 // the thread's clock, ns
	for i := 0; i < 3; i++ {
		s.Enqueue(bulk, frame{fmt.Sprint("bulk", i), 1250}, now) // 1 ms each on the link
	}
	s.Enqueue(voice, frame{"voice0", 125}, now)
	// bulk's upper limit counts from when it became backlogged (0 ms):
	// 1250 bytes at 4 Mbit/s every 2.5 ms.
	for now >= 0 {
		for f, ok := s.Dequeue(now); ok; f, ok = s.Dequeue(now) {
			fmt.Printf("%5.2f ms %s\n", float64(now)/1e6, f.name)
		}
		now = s.NextEvent(now) // -1: nothing queued, sleep until woken
	}
	// Output:
	//  0.00 ms voice0
	//  0.10 ms bulk0
	//  2.50 ms bulk1
	//  5.00 ms bulk2
}
