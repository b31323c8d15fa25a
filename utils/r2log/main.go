package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/r2go/r2/logs"
)

const usage = `usage: r2log [-i instance | -f file] <command> [options]

Commands:
  show [-o FILE] [-n N]  print the log entries of all forwarding threads,
                         merged by time, oldest first, as JSON lines
      -o FILE            write them to FILE instead of standard output
      -n N               only the newest N entries (0: all)
  enable                 turn forwarding-path logging on (r2 API)
  disable                turn it off (r2 API)
  clear                  forget the entries logged so far (r2 API)

Options:
  -i instance  the r2 instance (default "default"); its log file is
               /dev/shm/r2-<instance>-logs
  -f file      show this log file instead (show only)
  -h, --help   print this help

Exit status: 0 ok, 1 failure, 2 usage error.
`

// shmDir is where r2 keeps its shared-memory files; tests point it elsewhere.
var shmDir = logs.ShmDir

// logState switches the daemon's log; tests replace it with a fake.
var logState = setLogState

// logPath returns the log file of an r2 instance.
func logPath(instance string) string {
	return filepath.Join(shmDir, logs.InstanceFile(instance))
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is r2log with its arguments (without the program name) and output
// streams; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	gf := flag.NewFlagSet("r2log", flag.ContinueOnError)
	gf.SetOutput(io.Discard) // usage errors are reported below, with our usage text
	instance := gf.String("i", "default", "")
	file := gf.String("f", "", "")
	if err := gf.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return usageError(stderr, err.Error())
	}
	set := map[string]bool{}
	gf.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["i"] && set["f"] {
		return usageError(stderr, "-i and -f cannot be used together")
	}
	if set["f"] && *file == "" {
		return usageError(stderr, "-f needs a file name")
	}
	if err := checkInstance(*instance); err != nil {
		return usageError(stderr, err.Error())
	}
	rest := gf.Args()
	if len(rest) == 0 {
		return usageError(stderr, "missing command")
	}
	switch cmd := rest[0]; cmd {
	case "show":
		return show(*instance, *file, rest[1:], stdout, stderr)
	case "enable", "disable", "clear":
		if len(rest) > 1 {
			return usageError(stderr, fmt.Sprintf("%s takes no arguments, got %q", cmd, rest[1]))
		}
		if set["f"] {
			return usageError(stderr, cmd+" goes through the r2 API of an instance (-i), not a file (-f)")
		}
		if err := logState(*instance, cmd); err != nil {
			return failure(stderr, err)
		}
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		return usageError(stderr, fmt.Sprintf("unknown command %q", cmd))
	}
}

// checkInstance rejects instance names that would not name a file in shmDir.
func checkInstance(instance string) error {
	if instance == "" || strings.ContainsAny(instance, "/\x00") || instance == "." || instance == ".." {
		return fmt.Errorf("bad instance name %q", instance)
	}
	return nil
}

// show prints the merged entries of the log file of instance, or of file if
// it is not empty.
func show(instance, file string, args []string, stdout, stderr io.Writer) int {
	sf := flag.NewFlagSet("show", flag.ContinueOnError)
	sf.SetOutput(io.Discard)
	out := sf.String("o", "", "")
	last := sf.Int("n", 0, "")
	if err := sf.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return usageError(stderr, "show: "+err.Error())
	}
	if sf.NArg() > 0 {
		return usageError(stderr, fmt.Sprintf("show: unexpected argument %q", sf.Arg(0)))
	}
	if *last < 0 {
		return usageError(stderr, fmt.Sprintf("show: -n %d: want a count >= 0", *last))
	}

	path := file
	if path == "" {
		path = logPath(instance)
	}
	r, err := logs.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if file != "" {
			fmt.Fprintf(stderr, "r2log: no log file at %s\n", path)
		} else {
			fmt.Fprintf(stderr, "r2log: no log file at %s: is r2 running (instance %s)?\n", path, instance)
		}
		return 1
	}
	if err != nil {
		return failure(stderr, err)
	}
	defer r.Close()
	entries, err := r.Entries()
	if err != nil {
		return failure(stderr, err)
	}
	if *last > 0 && len(entries) > *last {
		entries = entries[len(entries)-*last:]
	}

	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return failure(stderr, err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	if err := logs.WriteJSON(bw, entries); err != nil {
		return failure(stderr, err)
	}
	if err := bw.Flush(); err != nil {
		return failure(stderr, err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return failure(stderr, err)
		}
	}
	if len(entries) == 0 && !r.Enabled() {
		how := "r2log enable"
		if file == "" && instance != "default" {
			how = "r2log -i " + instance + " enable"
		}
		fmt.Fprintf(stderr, "r2log: no entries: logging is off (turn it on with %q)\n", how)
	}
	return 0
}

// failure reports err and returns the failure exit status.
func failure(stderr io.Writer, err error) int {
	msg := err.Error()
	if !strings.HasPrefix(msg, "r2log: ") {
		msg = "r2log: " + msg
	}
	fmt.Fprintln(stderr, msg)
	return 1
}

// usageError reports a usage error with the usage text and returns the
// usage exit status.
func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "r2log: %s\n\n%s", msg, usage)
	return 2
}
