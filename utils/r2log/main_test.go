package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/r2go/r2/logs"
)

// writeLog creates a log file at path with two threads and n entries
// logged alternately by thread 0 and 1, and returns the messages in order.
func writeLog(t *testing.T, path string, n int) []string {
	t.Helper()
	f, err := logs.Create(path, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	id, err := f.Register("step %d from %ip via %mac")
	if err != nil {
		t.Fatal(err)
	}
	f.Enable()
	var msgs []string
	for i := range n {
		f.Logger(i%2).Log(id, uint64(i), 0x0a000001+uint64(i), 0x020000000001, 0)
		msgs = append(msgs, fmt.Sprintf("step %d from 10.0.0.%d via 02:00:00:00:00:01", i, 1+i))
		time.Sleep(time.Microsecond) // distinct timestamps on any clock
	}
	return msgs
}

type line struct {
	Time   string `json:"time"`
	Thread int    `json:"thread"`
	Msg    string `json:"msg"`
}

// parseLines decodes JSON lines and checks their times are in order.
func parseLines(t *testing.T, out string) []line {
	t.Helper()
	var ls []line
	var prev time.Time
	for s := range strings.Lines(out) {
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("bad JSON line %q: %v", s, err)
		}
		tm, err := time.Parse(time.RFC3339Nano, l.Time)
		if err != nil {
			t.Fatalf("bad time in %q: %v", s, err)
		}
		if tm.Before(prev) {
			t.Errorf("line %q is older than the line before", s)
		}
		prev = tm
		ls = append(ls, l)
	}
	return ls
}

// runR2log runs the command and returns its exit status and output.
func runR2log(args ...string) (code int, stdout, stderr string) {
	var o, e strings.Builder
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestShow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r2-x-logs")
	want := writeLog(t, path, 5)
	code, out, errOut := runR2log("-f", path, "show")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	ls := parseLines(t, out)
	if len(ls) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(ls), len(want), out)
	}
	for i, l := range ls {
		if l.Msg != want[i] || l.Thread != i%2 {
			t.Errorf("line %d: thread %d msg %q, want thread %d msg %q", i, l.Thread, l.Msg, i%2, want[i])
		}
	}

	t.Run("last N", func(t *testing.T) {
		code, outN, errOut := runR2log("-f", path, "show", "-n", "2")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		all := strings.SplitAfter(out, "\n")
		if wantN := strings.Join(all[len(all)-3:], ""); outN != wantN {
			t.Errorf("-n 2 printed\n%s\nwant\n%s", outN, wantN)
		}
		if code, outBig, _ := runR2log("-f", path, "show", "-n=100"); code != 0 || outBig != out {
			t.Errorf("-n larger than the log: exit %d, output\n%s", code, outBig)
		}
	})

	t.Run("to file", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "out.json")
		code, outF, errOut := runR2log("-f", path, "show", "-o", dst)
		if code != 0 || errOut != "" || outF != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, outF, errOut)
		}
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != out {
			t.Errorf("file holds\n%s\nwant\n%s", b, out)
		}
		bad := filepath.Join(t.TempDir(), "no", "such", "dir", "out.json")
		if code, _, errOut := runR2log("-f", path, "show", "-o", bad); code != 1 || !strings.HasPrefix(errOut, "r2log: ") {
			t.Errorf("-o into a missing directory: exit %d, stderr %q", code, errOut)
		}
	})
}

func TestShowInstance(t *testing.T) {
	shmDir = t.TempDir()
	t.Cleanup(func() { shmDir = logs.ShmDir })
	want := writeLog(t, filepath.Join(shmDir, logs.InstanceFile("blue")), 3)

	code, out, errOut := runR2log("-i", "blue", "show")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if ls := parseLines(t, out); len(ls) != 3 || ls[2].Msg != want[2] {
		t.Errorf("got %+v", ls)
	}

	code, out, errOut = runR2log("show")
	wantErr := fmt.Sprintf("r2log: no log file at %s/r2-default-logs: is r2 running (instance default)?\n", shmDir)
	if code != 1 || out != "" || errOut != wantErr {
		t.Errorf("default instance without a file: exit %d, stdout %q, stderr %q; want 1, \"\", %q", code, out, errOut, wantErr)
	}
	missing := filepath.Join(shmDir, "nothing-here")
	code, _, errOut = runR2log("-f", missing, "show")
	if wantErr := "r2log: no log file at " + missing + "\n"; code != 1 || errOut != wantErr {
		t.Errorf("-f missing file: exit %d, stderr %q, want 1, %q", code, errOut, wantErr)
	}
}

func TestShowBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(path, []byte("this is not a log file, it is just some text"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runR2log("-f", path, "show")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "r2log: ") || !strings.Contains(errOut, "magic") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestShowDisabledEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r2-y-logs")
	f, err := logs.Create(path, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code, out, errOut := runR2log("-f", path, "show")
	if code != 0 || out != "" || !strings.Contains(errOut, "logging is off") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the first line of stderr
	}{
		{"no command", nil, "missing command"},
		{"unknown command", []string{"bogus"}, `unknown command "bogus"`},
		{"unknown global flag", []string{"-x", "show"}, "-x"},
		{"unknown show flag", []string{"show", "-x"}, "-x"},
		{"show flag before command", []string{"-n", "3", "show"}, "-n"},
		{"negative count", []string{"show", "-n", "-1"}, "-n -1"},
		{"count not a number", []string{"show", "-n", "abc"}, "abc"},
		{"show argument", []string{"show", "extra"}, `"extra"`},
		{"-i and -f", []string{"-i", "a", "-f", "b", "show"}, "together"},
		{"empty -f", []string{"-f", "", "show"}, "-f"},
		{"instance with slash", []string{"-i", "../etc", "show"}, "instance"},
		{"empty instance", []string{"-i", "", "show"}, "instance"},
		{"enable argument", []string{"enable", "now"}, `"now"`},
		{"clear with file", []string{"-f", "x", "clear"}, "-f"},
		{"missing flag value", []string{"-i"}, "-i"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runR2log(tt.args...)
			first, _, _ := strings.Cut(errOut, "\n")
			if code != 2 || out != "" || !strings.HasPrefix(first, "r2log: ") || !strings.Contains(first, tt.want) || !strings.Contains(errOut, usage) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2, %q and the usage on stderr", code, out, errOut, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}, {"show", "--help"}, {"-i", "x", "show", "-h"}} {
		code, out, errOut := runR2log(args...)
		if code != 0 || out != usage || errOut != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", args, code, out, errOut)
		}
	}
}

func TestSetLogState(t *testing.T) {
	var calls []string
	logState = func(instance, op string) error {
		calls = append(calls, instance+" "+op)
		if op == "clear" {
			return fmt.Errorf("connection refused")
		}
		return nil
	}
	t.Cleanup(func() { logState = setLogState })
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"enable"}, 0, ""},
		{[]string{"-i", "red", "disable"}, 0, ""},
		{[]string{"-i", "red", "clear"}, 1, "r2log: connection refused\n"},
	} {
		if code, out, errOut := runR2log(c.args...); code != c.code || out != "" || errOut != c.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q", c.args, code, out, errOut, c.code, c.stderr)
		}
	}
	if got := strings.Join(calls, ", "); got != "default enable, red disable, red clear" {
		t.Errorf("calls: %s", got)
	}
}

// TestSetLogStateReal runs the real API call against an instance no daemon
// serves: it must fail with exit status 1 and one "r2log: " prefix.
func TestSetLogStateReal(t *testing.T) {
	instance := fmt.Sprintf("r2log-test-%d", os.Getpid())
	code, out, errOut := runR2log("-i", instance, "enable")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "r2log: ") || strings.Count(errOut, "r2log:") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
