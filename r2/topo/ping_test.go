//go:build linux

package topo

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParsePing(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name    string
		out     string
		want    PingResult
		wantErr bool
	}{
		{
			name: "all replies",
			out: `PING 10.2.0.1 (10.2.0.1) 56(84) bytes of data.
64 bytes from 10.2.0.1: icmp_seq=1 ttl=63 time=0.071 ms
64 bytes from 10.2.0.1: icmp_seq=2 ttl=63 time=0.054 ms
64 bytes from 10.2.0.1: icmp_seq=3 ttl=63 time=1.25 ms

--- 10.2.0.1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 402ms
rtt min/avg/max/mdev = 0.054/0.458/1.250/0.560 ms
`,
			want: PingResult{
				Transmitted: 3, Received: 3,
				Min: 54 * us, Avg: 458 * us, Max: 1250 * us, Mdev: 560 * us,
				RTTs: []time.Duration{71 * us, 54 * us, 1250 * us},
			},
		},
		{
			name: "total loss",
			out: `PING 10.2.0.1 (10.2.0.1) 56(84) bytes of data.

--- 10.2.0.1 ping statistics ---
1 packets transmitted, 0 received, 100% packet loss, time 0ms

`,
			want: PingResult{Transmitted: 1, Loss: 100},
		},
		{
			name: "partial loss with errors",
			out: `PING 10.3.0.1 (10.3.0.1) 56(84) bytes of data.
From 10.1.0.2 icmp_seq=1 Destination Net Unreachable
64 bytes from 10.3.0.1: icmp_seq=2 ttl=63 time=0.100 ms

--- 10.3.0.1 ping statistics ---
4 packets transmitted, 1 received, +1 errors, 75% packet loss, time 3003ms
rtt min/avg/max/mdev = 0.100/0.100/0.100/0.000 ms
`,
			want: PingResult{
				Transmitted: 4, Received: 1, Errors: 1, Loss: 75,
				Min: 100 * us, Avg: 100 * us, Max: 100 * us,
				RTTs: []time.Duration{100 * us},
			},
		},
		{
			name: "duplicates",
			out: `PING 10.2.0.1 (10.2.0.1) 56(84) bytes of data.
64 bytes from 10.2.0.1: icmp_seq=1 ttl=63 time=0.200 ms
64 bytes from 10.2.0.1: icmp_seq=1 ttl=63 time=0.300 ms (DUP!)
64 bytes from 10.2.0.1: icmp_seq=2 ttl=63 time=0.400 ms

--- 10.2.0.1 ping statistics ---
2 packets transmitted, 2 received, +1 duplicates, 0% packet loss, time 1001ms
rtt min/avg/max/mdev = 0.200/0.300/0.400/0.081 ms
`,
			want: PingResult{
				Transmitted: 2, Received: 2, Duplicates: 1,
				Min: 200 * us, Avg: 300 * us, Max: 400 * us, Mdev: 81 * us,
				RTTs: []time.Duration{200 * us, 400 * us},
			},
		},
		{
			name:    "no statistics",
			out:     "ping: connect: Network is unreachable\n",
			wantErr: true,
		},
		{
			name:    "empty",
			out:     "",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePing(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parsePing() error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(PingResult{}, "Output"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parsePing() mismatch (-want +got):\n%s", diff)
			}
			if got.Output != tt.out {
				t.Errorf("Output not kept")
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := time.Millisecond
	r := PingResult{RTTs: []time.Duration{5 * ms, 1 * ms, 4 * ms, 2 * ms, 3 * ms, 10 * ms, 9 * ms, 8 * ms, 7 * ms, 6 * ms}}
	tests := []struct {
		name string
		p    float64
		want time.Duration
	}{
		{"min", 1, 1 * ms},
		{"p10", 10, 1 * ms},
		{"p11", 11, 2 * ms},
		{"median", 50, 5 * ms},
		{"p90", 90, 9 * ms},
		{"p99", 99, 10 * ms},
		{"max", 100, 10 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Percentile(tt.p); got != tt.want {
				t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
	if r.RTTs[0] != 5*ms {
		t.Errorf("Percentile sorted RTTs in place")
	}
	if got := (PingResult{}).Percentile(50); got != 0 {
		t.Errorf("Percentile of no RTTs = %v, want 0", got)
	}
}

func TestValidPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"r2abcdef", true},
		{"r2t_1-x", true},
		{"abcdefghijkl", true},
		{"abcdefghijklm", false}, // 13 + "-ra" > 15
		{"", false},
		{"-r2", false},
		{"r2/x", false},
		{"r2.x", false}, // sysctl paths treat '.' specially
		{"r2 x", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if err := validPrefix(tt.prefix); (err == nil) != tt.ok {
				t.Errorf("validPrefix(%q) = %v, want ok=%v", tt.prefix, err, tt.ok)
			}
		})
	}
}

// TestPingLimit: the safety net leaves room for a stretched interval (ping
// 10 ms apart took 15 ms each beside a flood) and for the last reply's wait.
func TestPingLimit(t *testing.T) {
	for _, tc := range []struct {
		count    int
		interval time.Duration
	}{{2000, 10 * time.Millisecond}, {1, time.Second}, {20, 10 * time.Millisecond}} {
		stretched := time.Duration(tc.count) * tc.interval * 3 / 2
		if got := pingLimit(tc.count, tc.interval); got < stretched+pingReplyWait*time.Second {
			t.Errorf("pingLimit(%d, %v) = %v, shorter than %v of pings 1.5 intervals apart and the reply wait", tc.count, tc.interval, got, stretched)
		}
	}
}
