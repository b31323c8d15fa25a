package api_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/r2go/r2/apis/route"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
)

// msg builds raw strict-binary Thrift bytes by hand, so that tests can say
// things a well-behaved encoder never would.
type msg struct{ bytes.Buffer }

func (m *msg) i8(v byte)    { m.WriteByte(v) }
func (m *msg) i16(v uint16) { m.Write(binary.BigEndian.AppendUint16(nil, v)) }
func (m *msg) i32(v uint32) { m.Write(binary.BigEndian.AppendUint32(nil, v)) }
func (m *msg) str(s string) { m.i32(uint32(len(s))); m.WriteString(s) }

// call starts a CALL message for method ("Service:method").
func call(method string) *msg {
	m := &msg{}
	m.i32(0x80010001) // VERSION_1 | CALL
	m.str(method)
	m.i32(1) // seqid
	return m
}

// frame prefixes b with its length.
func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// rawConn connects to the server's socket without any Thrift machinery.
func rawConn(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readReply reads one framed reply and returns the exception the server
// sent, or nil for a normal reply.
func readReply(t *testing.T, c net.Conn) *thrift.TApplicationException {
	return replyReader(c)(t)
}

// replyReader returns a function that reads the replies on c one by one.
func replyReader(c net.Conn) func(t *testing.T) *thrift.TApplicationException {
	conf := api.ThriftConfig(api.Options{})
	p := thrift.NewTBinaryProtocolConf(thrift.NewTFramedTransportConf(thrift.NewStreamTransportR(c), conf), conf)
	return func(t *testing.T) *thrift.TApplicationException {
		t.Helper()
		return readOne(t, c, p)
	}
}

func readOne(t *testing.T, c net.Conn, p thrift.TProtocol) *thrift.TApplicationException {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, typ, _, err := p.ReadMessageBegin(ctx)
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	if typ != thrift.EXCEPTION {
		return nil
	}
	x := thrift.NewTApplicationException(0, "")
	if err := x.Read(ctx, p); err != nil {
		t.Fatal(err)
	}
	return &x
}

// expectClosed checks that the server closes c within d.
func expectClosed(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("server did not close the connection within %v", d)
	}
}

func heap() runtime.MemStats {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

// TestHostileFrames sends messages that claim huge sizes. Each must be
// refused at once, without the server allocating what was claimed, and the
// server must still serve a well-behaved client afterwards.
func TestHostileFrames(t *testing.T) {
	b := apitest.New()
	_, path := apitest.Serve(t, b, api.Options{})
	good := dial(t, path)
	must(t, good.Interface.AddIf(ctx, "veth0", 0, "", -1, ""))

	const limit = 64 << 20
	before := heap()
	tests := []struct {
		name  string
		bytes func() []byte
		want  string // "" if the server just hangs up; else a substring of the exception
	}{
		{"2 GiB frame", func() []byte {
			return append(binary.BigEndian.AppendUint32(nil, 1<<31), call("Interface:del_if").Bytes()...)
		}, ""},
		{"frame just over the limit", func() []byte {
			return binary.BigEndian.AppendUint32(nil, api.DefaultMaxFrameSize+1)
		}, ""},
		{"2 GiB string argument", func() []byte {
			m := call("Interface:del_if")
			m.i8(byte(thrift.STRING))
			m.i16(1)
			m.i32(0x7fffffff)
			m.WriteString("veth0")
			return frame(m.Bytes())
		}, "size exceeded max allowed: 2147483647"},
		{"2 GiB method name", func() []byte {
			m := &msg{}
			m.i32(0x80010001)
			m.i32(0x7fffffff)
			m.WriteString("Route:add_batch")
			return frame(m.Bytes())
		}, ""},
		{"list of 100 million routes", func() []byte {
			m := call("Route:add_batch")
			m.i8(byte(thrift.LIST))
			m.i16(1)
			m.i8(byte(thrift.STRUCT))
			m.i32(100_000_000)
			return frame(m.Bytes())
		}, "container of 100000000 elements exceeds the limit of 65536"},
		{"list longer than its frame", func() []byte {
			m := call("Route:add_batch")
			m.i8(byte(thrift.LIST))
			m.i16(1)
			m.i8(byte(thrift.STRING))
			m.i32(60000) // under MaxContainerSize, but 240 kB of lengths can't fit
			return frame(m.Bytes())
		}, "only"},
		{"negative list size", func() []byte {
			m := call("Route:add_batch")
			m.i8(byte(thrift.LIST))
			m.i16(1)
			m.i8(byte(thrift.STRUCT))
			m.i32(0xffffffff)
			return frame(m.Bytes())
		}, "negative size"},
		{"non-strict message", func() []byte {
			m := &msg{}
			m.str("Log:enabled") // old-style header: no version word
			m.i8(1)
			m.i32(1)
			m.i8(0)
			return frame(m.Bytes())
		}, ""},
		{"unknown service", func() []byte {
			m := call("Nope:enabled")
			m.i8(0)
			return frame(m.Bytes())
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConn(t, path)
			start := time.Now()
			if _, err := c.Write(tc.bytes()); err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				x := readReply(t, c)
				if x == nil || !strings.Contains((*x).Error(), tc.want) {
					t.Fatalf("got exception %v, want one containing %q", x, tc.want)
				}
			}
			expectClosed(t, c, 2*time.Second)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v to refuse", d)
			}
			// A well-behaved client is still served.
			if _, err := good.Interface.Show(ctx, "veth0"); err != nil {
				t.Fatalf("good client after attack: %v", err)
			}
		})
	}
	after := heap()
	if d := int64(after.TotalAlloc - before.TotalAlloc); d > limit {
		t.Errorf("server allocated %d MiB during the attacks", d>>20)
	}
	if d := int64(after.HeapAlloc) - int64(before.HeapAlloc); d > limit {
		t.Errorf("heap grew by %d MiB", d>>20)
	}
	if d := int64(after.Sys) - int64(before.Sys); d > limit {
		t.Errorf("memory from the OS grew by %d MiB", d>>20)
	}
	t.Logf("allocated %d KiB in total; heap %+d KiB; sys %+d KiB", (after.TotalAlloc-before.TotalAlloc)>>10,
		(int64(after.HeapAlloc)-int64(before.HeapAlloc))>>10, (int64(after.Sys)-int64(before.Sys))>>10)
	if st := b.State(); len(st.Ifaces) != 1 || len(st.Routes) != 0 {
		t.Errorf("state changed: %+v", st)
	}
}

// TestUnknownMethod checks that an unknown method gets an exception and the
// connection stays usable.
func TestUnknownMethod(t *testing.T) {
	_, path := apitest.Serve(t, apitest.New(), api.Options{})
	c := rawConn(t, path)
	m := call("Log:explode")
	m.i8(0)
	good := call("Log:enabled")
	good.i8(0)
	c.Write(append(frame(m.Bytes()), frame(good.Bytes())...))
	next := replyReader(c)
	if x := next(t); x == nil || (*x).TypeId() != thrift.UNKNOWN_METHOD {
		t.Fatalf("got %v, want UNKNOWN_METHOD", x)
	}
	if x := next(t); x != nil {
		t.Fatalf("second call: %v", x)
	}
}

// TestStalledClient checks that a client stuck mid-frame blocks nobody,
// and is cut off after SocketTimeout; an idle one after IdleTimeout.
func TestStalledClient(t *testing.T) {
	b := apitest.New()
	_, path := apitest.Serve(t, b, api.Options{SocketTimeout: 700 * time.Millisecond, IdleTimeout: 1500 * time.Millisecond})

	stalled := rawConn(t, path)
	m := call("Interface:add_if")
	stalled.Write(frame(m.Bytes())[:10]) // header and a few bytes, then nothing
	idle := rawConn(t, path)
	trickle := rawConn(t, path)
	trickleMsg := frame(call("Log:enabled").Bytes())
	start := time.Now()

	// A good client is served at once, repeatedly, while they hang.
	good := dial(t, path)
	for i := range 20 {
		t0 := time.Now()
		if err := good.Interface.AddIf(ctx, "veth"+string(rune('a'+i)), -1, "", -1, ""); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d > 500*time.Millisecond {
			t.Fatalf("call %d took %v", i, d)
		}
	}
	if n := len(b.State().Ifaces); n != 20 {
		t.Fatalf("%d interfaces, want 20", n)
	}

	// The trickler sends one byte every 200 ms: each read is quick, but
	// the message as a whole is not, and that is what counts.
	go func() {
		for _, by := range trickleMsg {
			if _, err := trickle.Write([]byte{by}); err != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	expectClosed(t, stalled, 3*time.Second)
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("stalled client cut off after %v, before SocketTimeout", d)
	}
	expectClosed(t, trickle, 3*time.Second)
	expectClosed(t, idle, 3*time.Second)
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Errorf("idle client cut off after %v, before IdleTimeout", d)
	}
	// The good client's connection was idle as long: redial and go on.
	good = dial(t, path)
	if _, err := good.Interface.Show(ctx, ""); err != nil {
		t.Fatal(err)
	}
}

// TestMaxConns checks that connections beyond MaxConns are refused and the
// server recovers when they go.
func TestMaxConns(t *testing.T) {
	_, path := apitest.Serve(t, apitest.New(), api.Options{MaxConns: 2})
	a, bb := dial(t, path), dial(t, path)
	for _, c := range []*api.Client{a, bb} {
		if _, err := c.Log.Enabled(ctx); err != nil {
			t.Fatal(err)
		}
	}
	extra := rawConn(t, path)
	expectClosed(t, extra, 2*time.Second)
	a.Close()
	var err error
	for range 50 { // the server notices a's departure asynchronously
		c := dial(t, path)
		if _, err = c.Log.Enabled(ctx); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no connection possible after one closed: %v", err)
}

// TestClose checks that Close returns promptly with clients connected (one
// idle, one stuck mid-frame), removes the socket file, and makes Serve
// return nil.
func TestClose(t *testing.T) {
	dir := shortTemp(t)
	path := filepath.Join(dir, "sub", "r2.sock")
	s, err := api.New(apitest.New(), api.Options{UnixPath: path, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o755 {
		t.Errorf("socket directory: %v %v, want mode 0755", di.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("socket directory holds %v, want just the socket", entries)
	}

	c, err := api.Dial("unix", path, api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Log.Enabled(ctx); err != nil {
		t.Fatal(err)
	}
	stuck := rawConn(t, path)
	stuck.Write([]byte{0, 0, 1, 0, 0x80})

	start := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file still there after Close: %v", err)
	}
	expectClosed(t, stuck, time.Second)
	if _, err := c.Log.Enabled(ctx); err == nil {
		t.Error("client still served after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// shortTemp returns a temporary directory with a short path: Unix socket
// paths are limited to 108 bytes, which t.TempDir can exceed.
func shortTemp(t *testing.T) string {
	dir, err := os.MkdirTemp("", "r2api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestSocketOwnership checks the stale-socket rules: a live instance's
// socket is never taken over, a stale one is replaced, and a file that is
// not a socket is left alone.
func TestSocketOwnership(t *testing.T) {
	dir := shortTemp(t)
	path := filepath.Join(dir, "r2.sock")

	// Stale: a socket file nobody listens on.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	s, err := api.New(apitest.New(), api.Options{UnixPath: path, Logf: t.Logf})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	go s.Serve()
	defer s.Close()

	// Live: a second instance on the same path must refuse to start and
	// leave the first one working.
	if _, err := api.New(apitest.New(), api.Options{UnixPath: path}); err == nil || !strings.Contains(err.Error(), "another r2 instance is serving") {
		t.Fatalf("second instance: %v", err)
	}
	if _, err := dial(t, path).Log.Enabled(ctx); err != nil {
		t.Fatalf("first instance after second tried: %v", err)
	}

	// Not a socket.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep me"), 0o644)
	if _, err := api.New(apitest.New(), api.Options{UnixPath: file}); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("regular file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Error("regular file clobbered")
	}

	// Someone removes the first server's socket file and starts another
	// instance there: closing the first must not remove the second's.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s2, err := api.New(apitest.New(), api.Options{UnixPath: path, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	go s2.Serve()
	defer s2.Close()
	s.Close()
	if _, err := dial(t, path).Log.Enabled(ctx); err != nil {
		t.Errorf("closing the first server broke the second: %v", err)
	}
}

// TestTCP checks the TCP listener rules.
func TestTCP(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "bad"} {
		_, err := api.New(apitest.New(), api.Options{TCPAddr: addr})
		if err == nil {
			t.Errorf("TCP %q accepted without AllowRemote", addr)
			continue
		}
		t.Logf("%s: %v", addr, err)
	}
	if _, err := api.New(apitest.New(), api.Options{}); err == nil {
		t.Error("no listener accepted")
	}
	s, err := api.New(apitest.New(), api.Options{TCPAddr: "127.0.0.1:0", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	addr := s.Addrs()[0].String()
	c, err := api.Dial("tcp", addr, api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Route.AddRoute(ctx, &route.RouteEntry{Prefix: "1.0.0.0/8", Nexthop: "2.2.2.2", Ifname: "x"}); err == nil || !strings.Contains(why(t, err), "no interface x") {
		t.Errorf("over TCP: %v", err)
	}
	// AllowRemote lets a loopback address through too, of course.
	s2, err := api.New(apitest.New(), api.Options{TCPAddr: "127.0.0.1:0", AllowRemote: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}
