package driver

// ShedControl decides when a receive queue is standing, so that shedding
// (Shedder) drops only from a queue the owner thread does not catch up
// with, never from a burst it absorbs. It is CoDel's test of a "bad"
// queue: the age of the frame at the head has stayed at or above Target
// for Interval without the queue emptying in between.
//
// Why not shed every frame older than Target at once: on a machine where
// the forwarding thread loses its CPU for milliseconds at a time, every
// such gap leaves a ring of old frames that the thread then forwards
// faster than they arrive. Shedding them throws away frames the router
// had time for (measured: the delivered rate halved) and leaves the ring
// no emptier at the next gap, which is when the kernel drops. Under true
// overload (the thread never catches up) the queue stands, and shedding
// it keeps room in the ring for new arrivals, a light flow's among them.
//
// Times are nanoseconds on the clock the driver stamps frames with
// (CLOCK_REALTIME for AF_PACKET). Owned by one forwarding thread; the
// zero value never sheds.
type ShedControl struct {
	// Target is the sojourn a standing queue is cut back to: frames
	// older than this are shed while shedding. 0 turns shedding off.
	Target int64
	// Interval is how long the head's age must stay at or above Target,
	// the queue never emptying, before shedding starts.
	Interval int64

	aboveSince int64  // when the head's age was first seen >= Target; 0: not
	shedding   bool   // the queue stands: shed until it empties
	episode    uint32 // standing episodes begun (Episode)
}

// Check is called before a receive while the queue is backlogged (the
// last receive filled all it was offered), with the time now and the
// arrival time of the frame at the head. It returns whether to shed and,
// if so, the cutoff for Shedder.Shed: frames that arrived before it go.
func (c *ShedControl) Check(now, head int64) (cutoff int64, shed bool) {
	if c.Target <= 0 {
		return 0, false
	}
	if now-head < c.Target {
		if !c.shedding {
			c.aboveSince = 0
		}
		return 0, false
	}
	if !c.shedding {
		if c.aboveSince == 0 {
			c.aboveSince = now
		}
		if now-c.aboveSince < c.Interval {
			return 0, false
		}
		c.shedding = true
		c.episode++
	}
	return now - c.Target, true
}

// Episode numbers the standing episodes: it changes each time the queue
// starts standing (shedding begins) after it last emptied. FlowMeter
// counts a TCP flow's signals per episode.
func (c *ShedControl) Episode() uint32 { return c.episode }

// Drained records that the queue emptied (a receive got less than it was
// offered): the thread caught up, so the queue was not standing.
func (c *ShedControl) Drained() {
	c.aboveSince = 0
	c.shedding = false
}

// Shedding reports whether the queue is being shed.
func (c *ShedControl) Shedding() bool { return c.shedding }
