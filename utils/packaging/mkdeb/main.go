// Command mkdeb builds R2's Debian package with nfpm, used as a library so
// that nothing but Go is needed: `make deb` runs it with go run. It builds
// the daemon and the utilities (static, CGO_ENABLED=0) from the checkout and
// packs them with the example configuration (a conffile, /etc/r2.cfg) and
// the systemd units:
//
//	/usr/bin/{r2,r2intf,r2rt,r2log,r2cnt,r2exporter,r2follow,r2top,r2cap,r2graph}
//	/etc/r2.cfg
//	/lib/systemd/system/{r2@.service,r2-exporter@.service,r2-follow@.service}
//
// It is a module of its own so that the packager's dependencies stay out of
// the router's go.mod.
//
// Usage:
//
//	go run . [-root DIR] [-version V] [-arch ARCH] [-out FILE|DIR]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

// Commands are the packages built into /usr/bin.
var Commands = []string{"r2", "utils/r2intf", "utils/r2rt", "utils/r2log", "utils/r2cnt", "utils/r2exporter", "utils/r2follow", "utils/r2top", "utils/r2cap", "utils/r2graph"}

// Units are the systemd unit templates of utils/packaging; @BINDIR@ in them
// becomes the directory of the binaries, @SYSCONFDIR@ that of the
// configuration (as make install does).
var Units = []string{"r2@.service", "r2-exporter@.service", "r2-follow@.service"}

var unitVars = strings.NewReplacer("@BINDIR@", bindir, "@SYSCONFDIR@", "/etc")

const (
	bindir  = "/usr/bin"
	unitdir = "/lib/systemd/system"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "../../..", "`directory` of the R2 checkout")
	version := fs.String("version", "0.1.0", "package `version`")
	arch := fs.String("arch", runtime.GOARCH, "Go `architecture` to build for (amd64, arm64, ...)")
	out := fs.String("out", ".", "package `file`, or a directory for the conventional name")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mkdeb: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	path, err := build(*root, *version, *arch, *out)
	if err != nil {
		fmt.Fprintf(stderr, "mkdeb: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, path)
	return 0
}

// build compiles the commands, packs them and returns the package's path.
func build(root, version, arch, out string) (string, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "mkdeb")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	var contents files.Contents
	for _, pkg := range Commands {
		name := filepath.Base(pkg)
		bin := filepath.Join(tmp, name)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./"+pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if o, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, o)
		}
		contents = append(contents, &files.Content{Source: bin, Destination: bindir + "/" + name,
			FileInfo: &files.ContentFileInfo{Mode: 0o755}})
	}
	pkgDir := filepath.Join(root, "utils", "packaging")
	for _, u := range Units {
		text, err := os.ReadFile(filepath.Join(pkgDir, u))
		if err != nil {
			return "", err
		}
		dst := filepath.Join(tmp, u)
		if err := os.WriteFile(dst, []byte(unitVars.Replace(string(text))), 0o644); err != nil {
			return "", err
		}
		contents = append(contents, &files.Content{Source: dst, Destination: unitdir + "/" + u,
			FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	contents = append(contents, &files.Content{Source: filepath.Join(pkgDir, "r2.cfg.example"),
		Destination: "/etc/r2.cfg", Type: files.TypeConfig, FileInfo: &files.ContentFileInfo{Mode: 0o644}})

	info := nfpm.WithDefaults(&nfpm.Info{
		Name:        "r2",
		Arch:        arch,
		Platform:    "linux",
		Version:     version,
		Section:     "net",
		Priority:    "optional",
		Maintainer:  "R2 developers <r2@localhost>",
		Description: "R2 software router forwarding plane\nA multi-threaded IPv4 forwarding plane in user space (AF_PACKET, AF_XDP),\nconfigured at runtime through Thrift APIs and command-line utilities, with\ncounters and logs in shared memory and a Prometheus exporter.",
		License:     "see the R2 source",
		Overridables: nfpm.Overridables{
			Contents: contents,
			Suggests: []string{"prometheus"},
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(pkgDir, "postinst"),
				PostRemove:  filepath.Join(pkgDir, "postrm"),
			},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	p, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		out = filepath.Join(out, p.ConventionalFileName(info))
	}
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if err := p.Package(info, f); err != nil {
		f.Close()
		os.Remove(out)
		return "", err
	}
	return out, f.Close()
}
