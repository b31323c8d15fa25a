package api

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
)

// errEOF is what a read returns when the client closed the connection.
var errEOF = io.EOF

// connTransport is the server's thrift.TTransport over one accepted
// connection. It enforces two deadlines instead of thrift.TSocket's single
// per-read timeout: between messages a client may stay silent for idle; once
// the first byte of a message has arrived, the whole message must arrive
// within msg. A client trickling one byte at a time therefore cannot hold its
// connection (and frame buffer) forever. Writes get msg each.
//
// Owned by the connection's goroutine; Close may be called from any
// goroutine.
type connTransport struct {
	c         net.Conn
	idle, msg time.Duration // 0: no deadline
	inMsg     bool          // a message has started arriving
	closed    atomic.Bool
}

var _ thrift.TTransport = (*connTransport)(nil)

// startMessage arms the idle deadline for the next message.
func (t *connTransport) startMessage() { t.inMsg = false }

func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

func (t *connTransport) Read(p []byte) (int, error) {
	if !t.inMsg {
		t.c.SetReadDeadline(deadline(t.idle))
	}
	n, err := t.c.Read(p)
	if n > 0 && !t.inMsg {
		t.inMsg = true
		t.c.SetReadDeadline(deadline(t.msg))
	}
	if err != nil {
		return n, thrift.NewTTransportExceptionFromError(err)
	}
	return n, nil
}

func (t *connTransport) Write(p []byte) (int, error) {
	t.c.SetWriteDeadline(deadline(t.msg))
	n, err := t.c.Write(p)
	if err != nil {
		return n, thrift.NewTTransportExceptionFromError(err)
	}
	return n, nil
}

func (t *connTransport) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	return t.c.Close()
}

func (t *connTransport) Open() error                 { return nil }
func (t *connTransport) IsOpen() bool                { return !t.closed.Load() }
func (t *connTransport) Flush(context.Context) error { return nil }
func (t *connTransport) RemainingBytes() uint64      { return thrift.UnknownRemainingBytes }
