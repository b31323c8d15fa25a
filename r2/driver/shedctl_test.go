package driver

import "testing"

const ms = int64(1e6)

// TestShedControl drives ShedControl with a fake clock: the head's age
// against Target, over time.
func TestShedControl(t *testing.T) {
	type step struct {
		now, age   int64 // the check's time and the head's age, ms
		drained    bool  // the queue emptied before this check
		want       bool  // shed
		wantCutoff int64 // ms, when shedding
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"below target never sheds", []step{
			{now: 0, age: 0}, {now: 5, age: 0}, {now: 50, age: 0}, {now: 500, age: 0},
		}},
		{"above target for the interval sheds", []step{
			{now: 100, age: 3},
			{now: 105, age: 3},
			{now: 110, age: 3, want: true, wantCutoff: 109},
			{now: 111, age: 1, want: true, wantCutoff: 110}, // at the target: still standing
			{now: 112, age: 0}, // below: no cutoff, still shedding
			{now: 113, age: 2, want: true, wantCutoff: 112}, // and back at once
		}},
		{"a dip below target restarts the interval", []step{
			{now: 100, age: 3},
			{now: 108, age: 0},
			{now: 112, age: 3},
			{now: 121, age: 3},
			{now: 122, age: 3, want: true, wantCutoff: 121},
		}},
		{"a burst that drains is not shed", []step{
			{now: 100, age: 30}, // after the thread lost its CPU for 30 ms
			{now: 105, age: 25},
			{now: 109, age: 0, drained: true}, // caught up: the head is fresh
			{now: 112, age: 5},
			{now: 121, age: 5},
			{now: 122, age: 5, want: true, wantCutoff: 121}, // this one stands
		}},
		{"an emptied queue stops shedding", []step{
			{now: 100, age: 3},
			{now: 110, age: 3, want: true, wantCutoff: 109},
			{now: 111, age: 3, drained: true},
			{now: 115, age: 3},
			{now: 121, age: 3, want: true, wantCutoff: 120},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ShedControl{Target: 1 * ms, Interval: 10 * ms}
			for i, s := range tt.steps {
				if s.drained {
					c.Drained()
				}
				now := 1_700_000_000_000*ms + s.now*ms // a Unix time, as the kernel stamps
				cutoff, shed := c.Check(now, now-s.age*ms)
				if shed != s.want {
					t.Fatalf("step %d (t=%d ms, age %d ms): shed %v, want %v", i, s.now, s.age, shed, s.want)
				}
				if shed && cutoff != 1_700_000_000_000*ms+s.wantCutoff*ms {
					t.Errorf("step %d: cutoff %d ms, want %d", i, (cutoff-1_700_000_000_000*ms)/ms, s.wantCutoff)
				}
			}
		})
	}
}

// TestShedControlOff: a zero Target never sheds, however old the head.
func TestShedControlOff(t *testing.T) {
	var c ShedControl
	for i := range int64(100) {
		if _, shed := c.Check(i*100*ms, 0); shed {
			t.Fatalf("check %d shed with Target 0", i)
		}
	}
}

func TestShedControlAllocs(t *testing.T) {
	c := ShedControl{Target: ms, Interval: 10 * ms}
	now := int64(0)
	if a := testing.AllocsPerRun(100, func() { now += ms; c.Check(now, 0) }); a != 0 {
		t.Errorf("Check allocates %v", a)
	}
}

// TestShedControlEpisode: each time the queue starts standing after it
// emptied, a new episode; while it stands, the same one.
func TestShedControlEpisode(t *testing.T) {
	c := ShedControl{Target: 1 * ms, Interval: 10 * ms}
	at := func(now, age int64) { c.Check(now*ms, (now-age)*ms) }
	at(100, 3)
	if e := c.Episode(); e != 0 {
		t.Fatalf("episode %d before the queue stood, want 0", e)
	}
	at(110, 3)
	at(115, 3)
	at(130, 0)
	if e := c.Episode(); e != 1 {
		t.Fatalf("episode %d while standing, want 1", e)
	}
	c.Drained()
	at(140, 3)
	at(150, 3)
	if e := c.Episode(); e != 2 {
		t.Fatalf("episode %d after the queue emptied and stood again, want 2", e)
	}
}
