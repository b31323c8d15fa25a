package client

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		pos     []string
		del     bool
		n       int
		wantErr error
	}{
		{[]string{"veth0", "ip", "1.1.1.2/24", "--del"}, []string{"veth0", "ip", "1.1.1.2/24"}, true, 0, nil},
		{[]string{"--n", "3", "a", "-del", "b"}, []string{"a", "b"}, true, 3, nil},
		{[]string{"a", "--", "--del", "-x"}, []string{"a", "--del", "-x"}, false, 0, nil},
		{[]string{"a", "-", "b"}, []string{"a", "-", "b"}, false, 0, nil},
		{[]string{"a", "b", "--help", "c"}, []string{"a", "b"}, false, 0, flag.ErrHelp},
	} {
		fs := NewFlagSet("t")
		del := fs.Bool("del", false, "")
		n := fs.Int("n", 0, "")
		pos, err := Parse(fs, tc.args)
		if !errors.Is(err, tc.wantErr) || !cmp.Equal(pos, tc.pos) || *del != tc.del || *n != tc.n {
			t.Errorf("Parse(%q) = %q, %v (del %v, n %d); want %q, %v (del %v, n %d)",
				tc.args, pos, err, *del, *n, tc.pos, tc.wantErr, tc.del, tc.n)
		}
		if tc.wantErr == nil && Set(fs, "del") != tc.del {
			t.Errorf("Set(del) = %v", !tc.del)
		}
	}
	fs := NewFlagSet("t")
	if _, err := Parse(fs, []string{"a", "--nope"}); err == nil || !strings.Contains(err.Error(), "-nope") {
		t.Errorf("unknown flag: %v", err)
	}
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // String(), or the error
	}{
		{nil, `r2 instance "default" at /run/r2/default.sock`},
		{[]string{"-i", "lab"}, `r2 instance "lab" at /run/r2/lab.sock`},
		{[]string{"-s", "/tmp/x.sock"}, "r2 at /tmp/x.sock"},
		{[]string{"-i", "lab", "-a", "127.0.0.1:9090"}, "r2 at tcp:127.0.0.1:9090"},
		{[]string{"-s", "/x", "-a", "127.0.0.1:1"}, "-s and -a are exclusive"},
		{[]string{"-i", "a/b"}, `instance name "a/b" contains '/'`},
		{[]string{"-i", ".hidden"}, "starts with '.'"},
		{[]string{"-i", ""}, "empty instance name"},
	} {
		var tgt Target
		fs := NewFlagSet("t")
		tgt.AddFlags(fs)
		if _, err := Parse(fs, tc.args); err != nil {
			t.Fatal(err)
		}
		got := tgt.String()
		if err := tgt.Check(); err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestDialAndMessages(t *testing.T) {
	b := apitest.New()
	_, sock := apitest.Serve(t, b, api.Options{})
	c, err := Dial(Target{Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Interface.DelIf(context.Background(), "veth9")
	if got := Message(err); got != "no interface veth9" {
		t.Errorf("Message(ApiErr) = %q", got)
	}
	var stderr bytes.Buffer
	if code := Fail(&stderr, "r2x", err); code != ExitFail || stderr.String() != "r2x: no interface veth9\n" {
		t.Errorf("Fail: %d %q", code, stderr.String())
	}
	stderr.Reset()
	if code := Usagef(&stderr, "r2x", "bad %s", "thing"); code != ExitUsage || stderr.String() != "r2x: bad thing\nRun 'r2x --help' for usage.\n" {
		t.Errorf("Usagef: %d %q", code, stderr.String())
	}

	// The same client's other services work on the same connection.
	if on, err := c.Log.Enabled(context.Background()); err != nil || on {
		t.Errorf("Log.Enabled: %v %v", on, err)
	}

	_, err = Dial(Target{Socket: "/nonexistent/r2.sock"})
	if err == nil || !strings.Contains(err.Error(), "cannot reach r2 at /nonexistent/r2.sock: no such file or directory (is r2 running?") {
		t.Errorf("dial missing socket: %v", err)
	}
	_, err = Dial(Target{Instance: "nope-" + t.Name()})
	if err == nil || !strings.Contains(err.Error(), `cannot reach r2 instance "nope-TestDialAndMessages" at /run/r2/nope-TestDialAndMessages.sock`) {
		t.Errorf("dial missing instance: %v", err)
	}
}

// TestMessageTransport checks the words for a connection the server drops.
func TestMessageTransport(t *testing.T) {
	_, sock := apitest.Serve(t, apitest.New(), api.Options{MaxFrameSize: 4096})
	c, err := Dial(Target{Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A 10 kB interface name makes a frame over the server's 4 kB limit.
	err = c.Interface.DelIf(context.Background(), strings.Repeat("x", 10000))
	t.Logf("Message: %q", Message(err))
	if got := Message(err); !strings.HasPrefix(got, "r2 closed the connection") {
		t.Errorf("Message(%v) = %q", err, got)
	}
}
