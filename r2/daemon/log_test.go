package daemon

import (
	"bytes"
	"strings"
	"testing"
)

func TestDaemonLogLevels(t *testing.T) {
	for _, tc := range []struct {
		name           string
		journal, quiet bool
		want, notWant  []string
	}{
		{name: "terminal", want: []string{"r2[x]: ", "hello 1", "error: boom 2"}, notWant: []string{"<6>", "<3>"}},
		{name: "journal", journal: true, want: []string{"<6>hello 1\n", "<3>boom 2\n"}, notWant: []string{"r2[x]"}},
		{name: "quiet", quiet: true, want: []string{"error: boom 2"}, notWant: []string{"hello"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.journal {
				t.Setenv("JOURNAL_STREAM", "8:1234")
			} else {
				t.Setenv("JOURNAL_STREAM", "")
			}
			var b bytes.Buffer
			d := newDaemonLog(&b, "x", tc.quiet)
			d.Infof("hello %d", 1)
			d.Errorf("boom %d", 2)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("log %q lacks %q", b.String(), w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(b.String(), w) {
					t.Errorf("log %q has %q", b.String(), w)
				}
			}
		})
	}
}
