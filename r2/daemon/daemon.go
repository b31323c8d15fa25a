//go:build linux

package daemon

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/r2go/r2/counters"
	ifnode "github.com/r2go/r2/gnodes/interface"
	"github.com/r2go/r2/logs"
	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/engine"
	"github.com/r2go/r2/r2/internal/affinity"
	"github.com/r2go/r2/r2/internal/sdnotify"
	"github.com/r2go/r2/r2/router"
)

const defaultConfigPath = "/etc/r2.cfg"

// Main is the r2 daemon: it parses args (the command line without the
// program name), runs until SIGINT or SIGTERM and returns the exit code: 0
// after a clean stop, 1 if the daemon failed, 2 for a bad command line or
// configuration. Errors and the daemon's log go to standard error.
func Main(args []string) int {
	return Run(args, os.Stderr, nil)
}

// paths of one instance.
type paths struct {
	socket, counters, logs string
}

func instancePaths(instance string, c config) paths {
	p := paths{
		socket:   api.SocketPath(instance),
		counters: counters.InstancePath(instance),
		logs:     logs.InstancePath(instance),
	}
	if c.Socket != "" {
		p.socket = c.Socket
	}
	return p
}

// Run is Main with its standard error and stop signal given: it writes
// errors and the log to stderr, and when stop is not nil it stops when stop
// is closed instead of on SIGINT or SIGTERM (for tests and for programs
// that embed the daemon).
func Run(args []string, stderr io.Writer, stop <-chan struct{}) int {
	fs := flag.NewFlagSet("r2", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", defaultConfigPath, "configuration `file` (INI, original R2 format)")
	instance := fs.String("i", "default", "instance `name`: selects the API socket and shared-memory files")
	overrides := keyFlags(fs)
	quiet := fs.Bool("q", false, "log only errors")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: r2 [-c FILE] [-i INSTANCE] [flags]\n\nR2 router daemon. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "r2: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := defaultConfig()
	if err := loadConfig(&cfg, *cfgPath, set["c"]); err != nil {
		fmt.Fprintf(stderr, "r2: %v\n", err)
		return 2
	}
	if err := overrides.apply(&cfg); err != nil {
		fmt.Fprintf(stderr, "r2: %v\n", err)
		return 2
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintf(stderr, "r2: %v\n", err)
		return 2
	}
	if err := api.CheckInstance(*instance); err != nil {
		fmt.Fprintf(stderr, "r2: -i: %v\n", err)
		return 2
	}
	dl := newDaemonLog(stderr, *instance, *quiet)
	logf := dl.Infof
	p := instancePaths(*instance, cfg)

	// Refuse to start over a live instance before touching its files.
	if c, err := net.DialTimeout("unix", p.socket, time.Second); err == nil {
		c.Close()
		fmt.Fprintf(stderr, "r2: instance %q is already running (its API socket %s answers)\n", *instance, p.socket)
		return 1
	}
	reg, err := counters.Create(p.counters, counters.Sizes{})
	if err != nil {
		fmt.Fprintf(stderr, "r2: %v\n", err)
		return 1
	}
	defer reg.Remove()
	lf, err := logs.Create(p.logs, cfg.Threads, cfg.LogEntries)
	if err != nil {
		fmt.Fprintf(stderr, "r2: %v\n", err)
		return 1
	}
	defer lf.Remove()
	if cfg.ControlCPUs != nil {
		if err := pinControl(cfg, logf); err != nil {
			fmt.Fprintf(stderr, "r2: control_cpus: %v\n", err)
			return 1
		}
	}
	ifnode.ShedTarget = time.Duration(cfg.RxShedUs) * time.Microsecond
	ifnode.ShedInterval = time.Duration(cfg.RxShedIvUs) * time.Microsecond
	ifnode.GRO = cfg.GRO
	eng, err := router.New(engine.Config{Threads: cfg.Threads, Packets: cfg.Pkts, CPUs: cfg.CPUs,
		BusyPoll: cfg.BusyPoll, Spin: time.Duration(cfg.SpinUs) * time.Microsecond, RTPriority: cfg.RTPriority, Warm: time.Duration(cfg.WarmMs) * time.Millisecond, WarmYield: cfg.WarmYield, WarmRawWait: cfg.WarmRawWait, BusyYield: cfg.BusyYield, Batch: cfg.Batch, Counters: reg, Logs: lf, Logf: logf})
	if err != nil {
		fmt.Fprintf(stderr, "r2: %v\n", err)
		return 1
	}
	be := newBackend(eng, lf, reg, cfg, logf)
	srv, err := api.New(be, api.Options{UnixPath: p.socket, TCPAddr: cfg.Listen, AllowRemote: cfg.AllowRemote, Logf: logf})
	if err != nil {
		eng.Close()
		fmt.Fprintf(stderr, "r2: %v\n", err)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	if _, err := sdnotify.Notify(sdnotify.Ready); err != nil {
		dl.Errorf("sd_notify: %v", err)
	}
	watchDone := make(chan struct{})
	go be.watchLinks(watchDone)
	go be.publishDrops(watchDone)

	where := []string{p.socket}
	if cfg.Listen != "" {
		where = append(where, cfg.Listen)
	}
	dl.Infof("running: %d forwarding thread(s), %d packets each, %s; API on %s; counters %s; logs %s",
		cfg.Threads, cfg.Pkts, map[bool]string{true: "busy polling", false: "epoll"}[cfg.BusyPoll],
		strings.Join(where, " and "), p.counters, p.logs)

	if stop == nil {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sig)
		s := make(chan struct{})
		go func() {
			for got := range sig {
				if got == syscall.SIGHUP {
					// Nothing is safe to reload behind the operator's back:
					// interfaces, addresses and routes change through the
					// API, and [general] settings need a restart.
					dl.Infof("SIGHUP: nothing to reload; change interfaces and routes through the API (r2intf, r2rt), restart r2 for [general] settings")
					continue
				}
				dl.Infof("%v: stopping", got)
				close(s)
				return
			}
		}()
		stop = s
	}
	code := 0
	select {
	case <-stop:
	case err := <-served:
		dl.Errorf("API server stopped: %v", err)
		code = 1
	}
	sdnotify.Notify(sdnotify.Stopping)
	close(watchDone)
	srv.Close()
	be.close()
	// Pool accounting, for leak hunting: with every interface deleted
	// before the stop, nothing is in use.
	for _, st := range eng.Engine().Stats() {
		dl.Infof("thread %d: packets in use %d of %d, big packets in use %d of %d", st.Thread,
			st.Pool.InFlight, st.Pool.Size, st.Big.InFlight, st.Big.Size)
	}
	if err := eng.Close(); err != nil {
		dl.Errorf("stopping: %v", err)
	}
	dl.Infof("stopped")
	return code
}

// pinControl pins every thread of the process to cfg.ControlCPUs before
// the forwarding threads start; they pin themselves to cfg.CPUs after.
// GOMAXPROCS is set explicitly first: the runtime would otherwise lower it
// to the CPUs the (now pinned) process may use, and the forwarding
// threads, which hold a P each, would leave the control side none.
func pinControl(cfg config, logf func(string, ...any)) error {
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), cfg.Threads+1))
	if err := affinity.PinProcess(cfg.ControlCPUs); err != nil {
		return err
	}
	var shared []int
	for _, c := range cfg.ControlCPUs {
		if slices.Contains(cfg.CPUs, c) {
			shared = append(shared, c)
		}
	}
	logf("control threads on CPUs %v, forwarding threads on %v", cfg.ControlCPUs, cfg.CPUs)
	if shared != nil {
		logf("warning: CPUs %v run both control and forwarding threads: route loads and the API take time from forwarding there", shared)
	}
	return nil
}
