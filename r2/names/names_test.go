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

func TestCounterNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{IfNodeCounter("veth0", IfRx), "IfNode:veth0/rx"},
		{Counter(IfNode("veth0"), IfTx), "IfNode:veth0/tx"},
		{Counter(Control, IntfVanished), "Control/intf_vanished"},
		{Counter(Control, ECMPGroups), "Control/ecmp_groups"},
		{Counter(Control, ECMPGroups6), "Control/ecmp6_groups"},
		{Counter(Control, ECMPShrunk), "Control/ecmp_routes_shrunk"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
