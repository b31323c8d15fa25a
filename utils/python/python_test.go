package python

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/r2go/r2/r2/api"
	"github.com/r2go/r2/r2/api/apitest"
)

// python is Debian's interpreter, which sees Debian's python3-thrift
// (another python3 first on PATH may not).
const python = "/usr/bin/python3"

func TestPythonExample(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s missing (Debian: python3, python3-thrift; make test installs them): %v", python, err)
	}
	if out, err := exec.Command(python, "-c", "import thrift").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import thrift (Debian: python3-thrift; make test installs it): %v\n%s", python, err, out)
	}
	thrift, err := exec.LookPath("thrift")
	if err != nil {
		t.Fatalf("thrift compiler missing (Debian: thrift-compiler; make test installs it): %v", err)
	}

	gen := t.TempDir()
	for _, idl := range []string{"interface", "route", "log"} {
		out, err := exec.Command(thrift, "-r", "--gen", "py", "-out", gen, filepath.Join("..", "..", "apis", idl+".thrift")).CombinedOutput()
		if err != nil {
			t.Fatalf("thrift --gen py %s: %v\n%s", idl, err, out)
		}
	}

	b := apitest.New()
	if err := b.AddInterface(api.AddIf{Name: "veth_r2_1", Ifindex: 0, Thread: -1}); err != nil {
		t.Fatal(err)
	}
	_, sock := apitest.Serve(t, b, api.Options{})

	cmd := exec.Command(python, "r2cfg.py", "--gen", gen, "-s", sock,
		"--ifname", "veth_r2_1", "--addr", "1.1.1.2/24", "--route", "3.1.1.0/24", "1.1.1.1",
		"--addr6", "2001:db8:1::2/64", "--route6", "2001:db8:3::/48", "fe80::1")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("r2cfg.py: %v\n%s", err, out)
	}
	t.Logf("r2cfg.py output:\n%s", out)

	// The backend got the calls...
	st := b.State()
	if got := st.Ifaces["veth_r2_1"].Addrs; len(got) != 2 || got[0] != netip.MustParsePrefix("1.1.1.2/24") ||
		got[1] != netip.MustParsePrefix("2001:db8:1::2/64") {
		t.Errorf("veth_r2_1 addresses %v", got)
	}
	r, ok := st.Routes[netip.MustParsePrefix("3.1.1.0/24")]
	if !ok || r.NextHop != netip.MustParseAddr("1.1.1.1") || r.Ifname != "veth_r2_1" || r.Kind != api.KindGateway {
		t.Errorf("route 3.1.1.0/24: %+v (found %v)", r, ok)
	}
	r, ok = st.Routes[netip.MustParsePrefix("2001:db8:3::/48")]
	if !ok || r.NextHop != netip.MustParseAddr("fe80::1") || r.Ifname != "veth_r2_1" || r.Kind != api.KindGateway {
		t.Errorf("route 2001:db8:3::/48: %+v (found %v)", r, ok)
	}
	// ... and the script printed what show returned.
	for _, want := range []string{
		"veth_r2_1       ifindex 0    02:00:00:00:00:00 up   mtu 1500 thread 0 afpacket rx 10 tx 20 1.1.1.2/24,2001:db8:1::2/64",
		"3.1.1.0/24               1.1.1.1                   veth_r2_1       gateway",
		"2001:db8:3::/48          fe80::1                   veth_r2_1       gateway",
		"2 routes",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// A refused request: the script exits 1 with R2's words.
	cmd = exec.Command(python, "r2cfg.py", "--gen", gen, "-s", sock,
		"--ifname", "veth_r2_1", "--addr", "1.1.1.3/24", "--route", "10.1.1.1/24", "1.1.1.1", "--addr6", "", "--route6", "", "")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(string(out), "r2cfg: route prefix 10.1.1.1/24 has host bits set; did you mean 10.1.1.0/24?") {
		t.Errorf("refused request: %v\n%s", err, out)
	}

	// A refused IPv6 route: R2's words for a next hop with a zone.
	cmd = exec.Command(python, "r2cfg.py", "--gen", gen, "-s", sock,
		"--ifname", "veth_r2_1", "--addr", "1.1.1.4/24", "--route", "10.4.0.0/16", "1.1.1.1",
		"--addr6", "2001:db8:4::2/64", "--route6", "2001:db8:4::/48", "fe80::1%veth_r2_1")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(string(out), "r2cfg: next hop \"fe80::1%veth_r2_1\" has a zone; give the address as fe80::1 and the interface on its own") {
		t.Errorf("refused IPv6 request: %v\n%s", err, out)
	}
}
