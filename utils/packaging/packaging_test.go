package packaging

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tool returns the path of a command the test needs, or fails naming the
// Debian package that has it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (listed in .ci/deps)", name, pkg)
	}
	return p
}

func runOK(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// verifyUnits runs systemd-analyze verify on the units installed under
// root. verify needs the targets the units refer to (network.target) and the
// ones every service depends on (sysinit.target), so the host's unit
// directory is copied in first, without replacing anything. Warnings
// (unknown keys, bad values) fail the test as errors do.
func verifyUnits(t *testing.T, root string) {
	t.Helper()
	sa := tool(t, "systemd-analyze", "systemd")
	sysunits := filepath.Join(root, "lib/systemd/system")
	if err := os.MkdirAll(sysunits, 0o755); err != nil {
		t.Fatal(err)
	}
	runOK(t, "", "cp", "-rn", "/lib/systemd/system/.", sysunits+"/")
	cmd := exec.Command(sa, "verify", "--root="+root, "r2@pkgtest.service", "r2-exporter@pkgtest.service", "r2-follow@pkgtest.service")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestMakeInstall installs into a temporary DESTDIR and checks the tree and
// the units.
func TestMakeInstall(t *testing.T) {
	dest, bin := t.TempDir(), t.TempDir()
	out := runOK(t, "../..", "make", "install", "DESTDIR="+dest, "PREFIX=/usr/local", "BIN="+bin)
	for _, f := range []string{"r2", "r2intf", "r2rt", "r2log", "r2cnt", "r2exporter"} {
		st, err := os.Stat(filepath.Join(dest, "usr/local/bin", f))
		if err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("usr/local/bin/%s: %v %v", f, st, err)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(dest, "etc/r2.cfg"))
	example, _ := os.ReadFile("r2.cfg.example")
	if err != nil || !bytes.Equal(cfg, example) {
		t.Errorf("etc/r2.cfg is not the example: %v", err)
	}
	for _, u := range []string{"r2@.service", "r2-exporter@.service", "r2-follow@.service"} {
		b, err := os.ReadFile(filepath.Join(dest, "usr/local/lib/systemd/system", u))
		if err != nil {
			t.Fatal(err)
		}
		if s := string(b); strings.Contains(s, "@BINDIR@") || strings.Contains(s, "@SYSCONFDIR@") ||
			!strings.Contains(s, "ExecStart=/usr/local/bin/") {
			t.Errorf("%s: placeholders not filled:\n%s", u, s)
		}
	}
	verifyUnits(t, dest)

	// A second install keeps an operator's configuration.
	os.WriteFile(filepath.Join(dest, "etc/r2.cfg"), []byte("[general]\nthreads = 2\n"), 0o644)
	out = runOK(t, "../..", "make", "install", "DESTDIR="+dest, "PREFIX=/usr/local", "BIN="+bin)
	if b, _ := os.ReadFile(filepath.Join(dest, "etc/r2.cfg")); string(b) != "[general]\nthreads = 2\n" || !strings.Contains(out, "kept") {
		t.Errorf("make install replaced etc/r2.cfg:\n%s", out)
	}
}

// TestDeb builds the package as make deb does, checks its metadata and
// contents, installs it into a temporary root with dpkg --root, verifies the
// units, runs the installed daemon and asks it through the installed
// utilities and exporter, then removes and purges the package.
func TestDeb(t *testing.T) {
	dpkgDeb := tool(t, "dpkg-deb", "dpkg")
	dpkg := tool(t, "dpkg", "dpkg")
	if os.Geteuid() != 0 {
		t.Fatal("needs root (make test runs as root): the installed daemon opens /run/r2 and /dev/shm")
	}
	dir := t.TempDir()
	deb := strings.TrimSpace(runOK(t, "mkdeb", "go", "run", ".", "-root", "../../..", "-version", "0.1.0~test", "-out", dir))
	if filepath.Dir(deb) != dir || !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("mkdeb printed %q", deb)
	}

	info := runOK(t, "", dpkgDeb, "--info", deb)
	for _, want := range []string{"Package: r2", "Version: 0.1.0~test", "Section: net", "conffiles", "postinst"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	if conf := runOK(t, "", dpkgDeb, "--ctrl-tarfile", deb); !strings.Contains(conf, "conffiles") {
		t.Errorf("no conffiles in the control archive")
	}
	contents := runOK(t, "", dpkgDeb, "--contents", deb)
	for _, want := range []string{"./usr/bin/r2\n", "./usr/bin/r2intf\n", "./usr/bin/r2rt\n", "./usr/bin/r2log\n", "./usr/bin/r2cnt\n",
		"./usr/bin/r2exporter\n", "./etc/r2.cfg\n", "./lib/systemd/system/r2@.service\n", "./lib/systemd/system/r2-exporter@.service\n", "./lib/systemd/system/r2-follow@.service\n"} {
		if !strings.Contains(contents, want) {
			t.Errorf("dpkg-deb --contents lacks %s", strings.TrimSpace(want))
		}
	}
	ctrl := t.TempDir()
	runOK(t, "", dpkgDeb, "--control", deb, ctrl)
	if b, err := os.ReadFile(filepath.Join(ctrl, "conffiles")); err != nil || strings.TrimSpace(string(b)) != "/etc/r2.cfg" {
		t.Errorf("conffiles = %q, %v; want /etc/r2.cfg", b, err)
	}

	// Install into an empty root with a dpkg database of its own. The
	// scripts run outside a chroot (the root has no shell); they only
	// reload systemd when it runs.
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	dpkgRoot := func(args ...string) string {
		return runOK(t, "", dpkg, append([]string{"--root=" + root, "--force-script-chrootless"}, args...)...)
	}
	dpkgRoot("-i", deb)
	if l := dpkgRoot("-l", "r2"); !strings.Contains(l, "ii  r2") {
		t.Errorf("dpkg -l:\n%s", l)
	}
	verifyUnits(t, root)
	if b, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system/r2@.service")); !strings.Contains(string(b), "ExecStart=/usr/bin/r2 -i %i -c /etc/r2.cfg") {
		t.Errorf("r2@.service ExecStart:\n%s", b)
	}

	runInstalled(t, root)

	// Removal keeps the changed conffile, purge deletes it.
	cfg := filepath.Join(root, "etc/r2.cfg")
	f, _ := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("# changed by the operator\n")
	f.Close()
	dpkgRoot("-r", "r2")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/r2")); err == nil {
		t.Error("usr/bin/r2 left after dpkg -r")
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Errorf("dpkg -r removed the conffile: %v", err)
	}
	dpkgRoot("-P", "r2")
	if _, err := os.Stat(cfg); err == nil {
		t.Error("dpkg -P left etc/r2.cfg")
	}
}

// runInstalled starts the installed daemon with the installed configuration
// and a unique instance, and asks it through the installed utilities.
func runInstalled(t *testing.T, root string) {
	t.Helper()
	bin := filepath.Join(root, "usr/bin")
	instance := fmt.Sprintf("pkg%d", os.Getpid()%100000)
	var log bytes.Buffer
	r2 := exec.Command(filepath.Join(bin, "r2"), "-i", instance, "-c", filepath.Join(root, "etc/r2.cfg"))
	r2.Stdout, r2.Stderr = &log, &log
	if err := r2.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r2.Wait() }()
	defer func() {
		r2.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("installed r2 exit: %v\n%s", err, log.String())
			}
		case <-time.After(10 * time.Second):
			r2.Process.Kill()
			<-done
			t.Errorf("installed r2 did not stop on SIGTERM")
		}
	}()
	sock := "/run/r2/" + instance + ".sock"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("installed r2: no API socket %s", sock)
		}
	}
	if out := runOK(t, "", filepath.Join(bin, "r2intf"), "-i", instance, "show"); !strings.HasPrefix(out, "NAME") {
		t.Errorf("r2intf show:\n%s", out)
	}
	if out := runOK(t, "", filepath.Join(bin, "r2intf"), "-i", instance, "show", "-json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("r2intf show -json:\n%s", out)
	}
	if out := runOK(t, "", filepath.Join(bin, "r2cnt"), "-i", instance, "Drop/"); !strings.Contains(out, "Drop/pkts") {
		t.Errorf("r2cnt:\n%s", out)
	}

	// The installed exporter serves the instance's counters.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	exp := exec.Command(filepath.Join(bin, "r2exporter"), "-i", instance, "-listen", addr)
	if err := exp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { exp.Process.Signal(syscall.SIGTERM); exp.Wait() }()
	var body string
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(body, "\nr2_up 1\n"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("installed r2exporter: no r2_up 1 at %s:\n%s", addr, body)
		}
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
	}
}
