package procnet

import "testing"

// TestParseSNMP reads one protocol's pair among others (Tcp is not
// TcpExt), refuses a values line that does not match its names, and
// reports a protocol that is absent.
func TestParseSNMP(t *testing.T) {
	text := []byte(`Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 99800322
Tcp: RtoAlgorithm ActiveOpens RetransSegs
Tcp: 1 5 -1
TcpExt: SyncookiesSent TCPTimeouts
TcpExt: 0 7
`)
	tcp, err := ParseSNMP(text, "Tcp")
	if err != nil {
		t.Fatal(err)
	}
	if tcp["ActiveOpens"] != 5 || len(tcp) != 2 {
		t.Errorf("Tcp: %v, want ActiveOpens 5 and RetransSegs (-1) skipped", tcp)
	}
	ext, err := ParseSNMP(text, "TcpExt")
	if err != nil || ext["TCPTimeouts"] != 7 {
		t.Errorf("TcpExt: %v, %v", ext, err)
	}
	if _, err := ParseSNMP([]byte("Udp: InDatagrams NoPorts\nUdp: 1\n"), "Udp"); err == nil {
		t.Error("a values line shorter than its names: no error")
	}
	if _, err := ParseSNMP(text, "Icmp"); err == nil {
		t.Error("no Icmp lines: no error")
	}
}
