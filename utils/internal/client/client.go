// Package client is what R2's utilities share: finding and dialling an R2
// instance's API (by instance name, socket path or TCP address), parsing
// command lines whose flags may follow the positional arguments, and
// printing errors and choosing exit codes the same way in every command.
//
// Exit codes: ExitOK (0) on success, ExitFail (1) when the request failed
// (the router refused it, or could not be reached), ExitUsage (2) when the
// command line itself was wrong. Errors go to stderr as "prog: message".
package client

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/r2go/r2/apis/common"
	"github.com/r2go/r2/r2/api"
)

// Exit codes of every utility.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// DefaultTimeout bounds connecting and waiting for each reply. It is longer
// than the server's own socket timeout: a reply may wait for other clients'
// requests and for the forwarding threads to switch tables.
const DefaultTimeout = 60 * time.Second

// Target says which R2 instance to talk to. Socket and Addr override
// Instance; at most one of them may be set.
type Target struct {
	Instance string        // -i: instance name; socket /run/r2/<instance>.sock
	Socket   string        // -s: socket path
	Addr     string        // -a: TCP host:port
	Timeout  time.Duration // 0: DefaultTimeout
}

// AddFlags registers -i, -s and -a on fs.
func (t *Target) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&t.Instance, "i", api.DefaultInstance, "R2 instance `name` (API socket "+api.SocketPath("NAME")+")")
	fs.StringVar(&t.Socket, "s", "", "API socket `path` (overrides -i)")
	fs.StringVar(&t.Addr, "a", "", "API TCP address `host:port` (overrides -i)")
}

// FlagsHelp describes the flags AddFlags registers, for help texts.
const FlagsHelp = `  -i NAME       R2 instance to talk to (default "default": ` + api.SocketDir + `/default.sock)
  -s PATH       API Unix socket path
  -a HOST:PORT  API TCP address`

// endpoint returns the network and address to dial.
func (t Target) endpoint() (network, address string, err error) {
	switch {
	case t.Socket != "" && t.Addr != "":
		return "", "", errors.New("-s and -a are exclusive")
	case t.Socket != "":
		return "unix", t.Socket, nil
	case t.Addr != "":
		return "tcp", t.Addr, nil
	}
	if err := api.CheckInstance(t.Instance); err != nil {
		return "", "", err
	}
	return "unix", api.SocketPath(t.Instance), nil
}

// Set reports whether the flag called name was given on fs's command line.
func Set(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// Check reports a usage error in t (conflicting flags, bad instance name).
func (t Target) Check() error {
	_, _, err := t.endpoint()
	return err
}

// String describes the target for messages.
func (t Target) String() string {
	network, address, err := t.endpoint()
	switch {
	case err != nil:
		return "?"
	case t.Socket == "" && t.Addr == "":
		return fmt.Sprintf("r2 instance %q at %s", t.Instance, address)
	case network == "tcp":
		return "r2 at tcp:" + address
	}
	return "r2 at " + address
}

// Dial connects to the target. Its errors say which instance could not be
// reached and suggest why.
func Dial(t Target) (*api.Client, error) {
	network, address, err := t.endpoint()
	if err != nil {
		return nil, err
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c, err := api.Dial(network, address, api.Options{SocketTimeout: timeout})
	if err != nil {
		hint := ""
		switch {
		case errors.Is(err, fs.ErrNotExist):
			hint = " (is r2 running? -i, -s or -a pick another instance)"
		case errors.Is(err, syscall.ECONNREFUSED):
			hint = " (nothing is listening: is r2 running?)"
		case errors.Is(err, fs.ErrPermission):
			hint = " (the API socket is accessible to root only)"
		}
		return nil, fmt.Errorf("cannot reach %s: %w%s", t, unwrapOp(err), hint)
	}
	return c, nil
}

// unwrapOp drops the "dial unix /run/r2/x.sock: connect:" prefix, which
// messages say in other words (and the server end of a Unix connection has
// a name that is not the socket's path, see r2/api).
func unwrapOp(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}

// Message returns the text to show for an error from a call: the server's
// own words for an ApiErr, a plainer description for transport failures.
func Message(err error) string {
	var ae *common.ApiErr
	if errors.As(err, &ae) {
		return ae.Why
	}
	var ap thrift.TApplicationException
	if errors.As(err, &ap) {
		return "r2 could not process the request: " + ap.Error()
	}
	var te thrift.TTransportException
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &te) && te.TypeId() == thrift.END_OF_FILE:
		return "r2 closed the connection (it may have stopped, or refused an oversized request)"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &te) && te.TypeId() == thrift.TIMED_OUT:
		return "r2 did not answer in time"
	case errors.As(err, &te):
		return "connection to r2 failed: " + unwrapOp(err).Error()
	}
	return err.Error()
}

// Fail prints "prog: message" for err on w and returns ExitFail.
func Fail(w io.Writer, prog string, err error) int {
	fmt.Fprintf(w, "%s: %s\n", prog, Message(err))
	return ExitFail
}

// Usagef prints a usage error and a pointer to --help on w and returns
// ExitUsage.
func Usagef(w io.Writer, prog, format string, args ...any) int {
	fmt.Fprintf(w, "%s: %s\nRun '%s --help' for usage.\n", prog, fmt.Sprintf(format, args...), prog)
	return ExitUsage
}

// NewFlagSet returns a FlagSet that reports errors instead of printing
// or exiting, for use with Parse.
func NewFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// Parse parses args with fs, allowing flags after positional arguments
// ("r2intf veth0 ip 1.1.1.2/24 --del"), and returns the positional ones.
// "--" ends the flags. It returns flag.ErrHelp for -h, -help or --help,
// with the positional arguments before it, so that the caller can tell
// which command's help to print.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return pos, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
