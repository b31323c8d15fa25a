package names

import "testing"

func TestPerInterfaceNamesAreDistinct(t *testing.T) {
	seen := map[string]bool{Drop: true, L3Parse: true, IPv4Fwd: true, IPv4Local: true, EncapMux: true}
	for _, ifname := range []string{"veth0", "veth1"} {
		for _, n := range []string{IfNode(ifname), EtherDecap(ifname), EtherEncap(ifname)} {
			if seen[n] {
				t.Fatalf("name %q is not unique", n)
			}
			seen[n] = true
		}
	}
}
