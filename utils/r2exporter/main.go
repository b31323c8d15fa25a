// Command r2exporter serves an R2 instance's counters as Prometheus
// metrics. Like r2cnt it maps the counters file
// (/dev/shm/r2-INSTANCE-counters) read-only and never talks to the daemon;
// every scrape reads the file afresh, so the exporter keeps working across
// daemon restarts and reports r2_up 0 while the daemon is down.
//
// Usage:
//
//	r2exporter [-i INSTANCE | -f FILE] [-listen HOST:PORT] [-allow-remote]
//
// The metric names and labels are described in collector.go and README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/r2go/r2/counters"
	"github.com/r2go/r2/r2/api"
)

const defaultListen = "127.0.0.1:9742"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, nil)) }

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: r2exporter [-i INSTANCE | -f FILE] [-listen HOST:PORT] [-allow-remote]\n\n"+
		"Serve R2's counters (read from shared memory; the daemon is not asked) as\n"+
		"Prometheus metrics at http://HOST:PORT/metrics.\n\n")
	fs.PrintDefaults()
}

// config is a parsed command line.
type config struct {
	path, listen string
}

// parseArgs returns the configuration, or an exit code (0 after --help, 2 for
// a bad command line) and false.
func parseArgs(args []string, stdout, stderr io.Writer) (config, int, bool) {
	fs := flag.NewFlagSet("r2exporter", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	instance := fs.String("i", "default", "r2 instance `name`")
	file := fs.String("f", "", "counters `file` (overrides -i)")
	listen := fs.String("listen", defaultListen, "`address` to serve /metrics on")
	allowRemote := fs.Bool("allow-remote", false, "allow a -listen address that is not loopback")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			usage(stdout, fs)
			return config{}, 0, false
		}
		fmt.Fprintf(stderr, "r2exporter: %v\n", err)
		usage(stderr, fs)
		return config{}, 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "r2exporter: unexpected argument %q\n", fs.Arg(0))
		usage(stderr, fs)
		return config{}, 2, false
	}
	c := config{path: *file, listen: *listen}
	if c.path == "" {
		if err := api.CheckInstance(*instance); err != nil {
			fmt.Fprintf(stderr, "r2exporter: -i: %v\n", err)
			return config{}, 2, false
		}
		c.path = counters.InstancePath(*instance)
	}
	if err := checkListen(c.listen, *allowRemote); err != nil {
		fmt.Fprintf(stderr, "r2exporter: -listen: %v\n", err)
		return config{}, 2, false
	}
	return c, 0, true
}

// checkListen accepts HOST:PORT with a loopback host ("localhost" or a
// loopback address), or any host with allowRemote.
func checkListen(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address: counters describe the router's traffic; add -allow-remote to serve them to the network", addr)
}

// newHandler serves /metrics from the counters file at path, with the
// exporter's own process and Go metrics.
func newHandler(path string, logf func(string, ...any)) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(path, logf),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "r2exporter: metrics of %s at /metrics\n", path)
	})
	return mux
}

// run is main with its outputs given; it serves until SIGINT or SIGTERM, or
// until stop is closed when stop is not nil.
func run(args []string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	c, code, ok := parseArgs(args, stdout, stderr)
	if !ok {
		return code
	}
	logger := log.New(stderr, "r2exporter: ", log.LstdFlags)
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		fmt.Fprintf(stderr, "r2exporter: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: newHandler(c.path, logger.Printf), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Printf("serving %s on http://%s/metrics", c.path, ln.Addr())
	if stop == nil {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sig)
		s := make(chan struct{})
		go func() { <-sig; close(s) }()
		stop = s
	}
	select {
	case <-stop:
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			logger.Printf("%v", err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	return 0
}
