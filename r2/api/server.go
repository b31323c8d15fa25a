package api

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/r2go/r2/apis/graphapi"
	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/apis/logapi"
	"github.com/r2go/r2/apis/route"
	"github.com/r2go/r2/r2/driver"
)

// Service names on the multiplexed socket.
const (
	ServiceInterface = "Interface"
	ServiceRoute     = "Route"
	ServiceLog       = "Log"
	ServiceGraph     = "Graph"
)

// Defaults for Options.
const (
	// DefaultMaxMessageSize bounds a message and so what one request can
	// make the server allocate. 1 MiB holds 10000 IPv4 routes, the chunk
	// r2rt sends.
	DefaultMaxMessageSize = 1 << 20
	// DefaultMaxFrameSize is the framed transport's limit, the same 1 MiB.
	DefaultMaxFrameSize = 1 << 20
	// DefaultMaxContainerSize bounds the element count of any list; a
	// claimed count is checked against it (and against the bytes left in
	// the frame) before anything is allocated.
	DefaultMaxContainerSize = 65536
	// DefaultSocketTimeout is how long a client has to send the rest of a
	// message once it has started one, and how long a reply may take to
	// write: a client that stalls mid-call is cut off after it.
	DefaultSocketTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a connection that sends nothing between
	// calls for this long.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultMaxConns bounds concurrent connections (each may hold a frame
	// buffer of up to MaxFrameSize).
	DefaultMaxConns = 64
)

// closeWait bounds how long Close waits for connection goroutines, which may
// be inside a slow backend call, to return.
const closeWait = 2 * time.Second

// Options configure a Server. The zero value of a field means its default.
type Options struct {
	// UnixPath is the Unix socket to listen on (mode 0600; its directory is
	// created 0755 if missing), usually SocketPath(instance). "" for none.
	UnixPath string
	// TCPAddr is an optional "host:port" to listen on as well. It must be a
	// loopback address unless AllowRemote is set. Default: no TCP.
	TCPAddr string
	// AllowRemote permits a non-loopback TCPAddr. Anyone who can reach it
	// can reconfigure the router.
	AllowRemote bool

	// MaxMessageSize and MaxFrameSize bound one message (default 1 MiB).
	MaxMessageSize, MaxFrameSize int32
	// MaxContainerSize bounds the element count of a list (default 65536).
	MaxContainerSize int32
	// SocketTimeout bounds the arrival of a message once begun and the
	// writing of a reply (default 10 s; negative: none).
	SocketTimeout time.Duration
	// IdleTimeout closes a connection idle between calls (default 5 min;
	// negative: none).
	IdleTimeout time.Duration
	// MaxConns bounds concurrent connections; more are closed at once
	// (default 64).
	MaxConns int
	// Drivers lists the add_if driver names the backend supports (default:
	// the registered drivers, driver.Names, when New is called).
	Drivers []string

	// Logf logs server events (default: the standard logger).
	Logf func(format string, args ...any)
}

// withDefaults fills in the zero fields of o.
func (o Options) withDefaults() Options {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	if o.MaxContainerSize <= 0 {
		o.MaxContainerSize = DefaultMaxContainerSize
	}
	if o.SocketTimeout == 0 {
		o.SocketTimeout = DefaultSocketTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Drivers == nil {
		o.Drivers = driver.Names()
	}
	if o.Logf == nil {
		o.Logf = log.Printf
	}
	return o
}

// ThriftConfig returns the Thrift configuration a Server with options o uses,
// for clients to share: size limits, strict binary reads and writes, and
// SocketTimeout as the connect and socket timeout.
func ThriftConfig(o Options) *thrift.TConfiguration {
	o = o.withDefaults()
	timeout := max(o.SocketTimeout, 0)
	return &thrift.TConfiguration{
		MaxMessageSize:     o.MaxMessageSize,
		MaxFrameSize:       o.MaxFrameSize,
		MaxContainerSize:   o.MaxContainerSize,
		ConnectTimeout:     timeout,
		SocketTimeout:      timeout,
		TBinaryStrictRead:  thrift.BoolPtr(true),
		TBinaryStrictWrite: thrift.BoolPtr(true),
	}
}

// routeWireMax is the most bytes one RouteEntry takes on the wire: four
// strings of at most 43 (an IPv6 prefix), 39, 15 and 9 bytes, each with a
// 3-byte field header and a 4-byte length, plus the stop byte.
const routeWireMax = 4*7 + 43 + 39 + MaxIfnameLen + 9 + 1

// pageCap is the most routes a show reply carries: MaxPage, or fewer if
// that many could not fit in one frame.
func pageCap(frame int32) int {
	return max(1, min(MaxPage, (int(frame)-256)/routeWireMax))
}

// Server serves the R2 API. Create it with New, run it with Serve, stop it
// with Close.
type Server struct {
	o       Options
	core    *core
	proc    *thrift.TMultiplexedProcessor
	conf    *thrift.TConfiguration
	lns     []net.Listener
	unix    *unixSocket // nil without UnixPath
	closing atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]struct{} // open connections, closed by Close
	wg    sync.WaitGroup        // accept loops and connection goroutines
}

// New checks o, opens the listeners and returns a Server ready to Serve. It
// fails if another live instance owns o.UnixPath, or if o.TCPAddr is not a
// loopback address and o.AllowRemote is not set.
func New(b Backend, o Options) (*Server, error) {
	if b == nil {
		return nil, errors.New("api: nil backend")
	}
	o = o.withDefaults()
	if o.UnixPath == "" && o.TCPAddr == "" {
		return nil, errors.New("api: nothing to listen on (no Unix socket path, no TCP address)")
	}
	s := &Server{
		o:     o,
		conf:  ThriftConfig(o),
		conns: make(map[net.Conn]struct{}),
		core: &core{
			b:       b,
			logf:    o.Logf,
			pageCap: pageCap(min(o.MaxFrameSize, o.MaxMessageSize)),
			drivers: o.Drivers,
		},
	}
	s.proc = thrift.NewTMultiplexedProcessor()
	s.proc.RegisterProcessor(ServiceInterface, intf.NewInterfaceProcessor(ifHandler{s.core}))
	s.proc.RegisterProcessor(ServiceRoute, route.NewRouteProcessor(routeHandler{s.core}))
	s.proc.RegisterProcessor(ServiceLog, logapi.NewLogProcessor(logHandler{s.core}))
	s.proc.RegisterProcessor(ServiceGraph, graphapi.NewGraphProcessor(graphHandler{s.core}))

	if o.TCPAddr != "" {
		ln, err := listenTCP(o.TCPAddr, o.AllowRemote)
		if err != nil {
			return nil, err
		}
		s.lns = append(s.lns, ln)
	}
	if o.UnixPath != "" {
		u, err := listenUnix(o.UnixPath)
		if err != nil {
			for _, ln := range s.lns {
				ln.Close()
			}
			return nil, err
		}
		s.unix = u
		s.lns = append(s.lns, u.ln)
	}
	return s, nil
}

// Addrs returns the addresses the server listens on.
func (s *Server) Addrs() []net.Addr {
	var as []net.Addr
	for _, ln := range s.lns {
		if s.unix != nil && ln == s.unix.ln {
			as = append(as, &net.UnixAddr{Name: s.unix.path, Net: "unix"})
			continue
		}
		as = append(as, ln.Addr())
	}
	return as
}

// Panics returns how many requests panicked (and were answered with an
// "internal error" ApiErr instead of crashing the daemon).
func (s *Server) Panics() uint64 { return s.core.panics.Load() }

// Serve accepts and serves connections until Close is called, then returns
// nil; it returns an error if accepting fails for another reason.
func (s *Server) Serve() error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return nil
	}
	s.wg.Add(len(s.lns)) // under mu, so never concurrent with Close's Wait
	s.mu.Unlock()
	errs := make(chan error, len(s.lns))
	for _, ln := range s.lns {
		go func() {
			defer s.wg.Done()
			errs <- s.acceptLoop(ln)
		}()
	}
	var first error
	for range s.lns {
		if err := <-errs; err != nil && first == nil {
			first = err
			s.Close() // one listener failed: stop the others too
		}
	}
	return first
}

func (s *Server) acceptLoop(ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				// Out of file descriptors and the like: back off as
				// net/http does rather than spin or give up.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.o.Logf("api: accept on %s: %v; retrying in %v", ln.Addr(), err, delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("api: accept on %s: %w", ln.Addr(), err)
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.serveConn(c)
		}()
	}
}

// isTemporary reports accept errors worth retrying (EMFILE, ENFILE,
// ECONNABORTED...), which the net package still flags as temporary.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// track registers a new connection; it refuses it when closing or full.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	if len(s.conns) >= s.o.MaxConns {
		s.o.Logf("api: %d connections open; refusing one from %s", len(s.conns), c.RemoteAddr())
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// serveConn answers the requests on one connection until the client goes
// away, breaks the protocol, times out, or the server closes.
func (s *Server) serveConn(c net.Conn) {
	t := &connTransport{c: c, idle: max(s.o.IdleTimeout, 0), msg: max(s.o.SocketTimeout, 0)}
	framed := thrift.NewTFramedTransportConf(t, s.conf)
	proto := thrift.NewTBinaryProtocolConf(framed, s.conf)
	ctx := context.Background()
	for !s.closing.Load() {
		t.startMessage()
		ok, err := s.proc.Process(ctx, proto, proto)
		if err != nil {
			var ae thrift.TApplicationException
			if errors.As(err, &ae) && ae.TypeId() == thrift.UNKNOWN_METHOD {
				continue // answered with an exception; the stream is intact
			}
		}
		if !ok {
			// A transport error (EOF, timeout, frame too big) or a
			// message that could not be decoded: the stream can't be
			// trusted any more. The generated code has already sent
			// the client an exception where it could.
			if err != nil && !isEOF(err) && !s.closing.Load() {
				s.o.Logf("api: dropping connection from %s: %v", addrString(c), opCause(err))
			}
			return
		}
	}
}

func isEOF(err error) bool {
	var te thrift.TTransportException
	return errors.Is(err, net.ErrClosed) || errors.Is(err, errEOF) ||
		errors.As(err, &te) && te.TypeId() == thrift.END_OF_FILE
}

// opCause strips a *net.OpError's "read unix X->Y:" prefix: the local name
// of an accepted Unix connection is the temporary name the socket was bound
// under (see listenUnix), not its path, and would only confuse.
func opCause(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}

func addrString(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.Network() == "tcp" {
		return a.String()
	}
	return "a Unix socket client"
}

// Close stops the server: it stops accepting, closes the listeners and every
// open connection, and removes the Unix socket file. It returns once the
// connection goroutines are done, or after a short grace period if one is
// stuck in a slow backend call.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closing.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()

	var errs []error
	for _, ln := range s.lns {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if s.unix != nil {
		if err := s.unix.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
		s.o.Logf("api: closing with requests still in progress")
	}
	return errors.Join(errs...)
}
