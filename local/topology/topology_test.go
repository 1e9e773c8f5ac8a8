package topology

import "testing"

// Every port of every node, and the service ports after them, must be
// distinct, or two processes would fight over one at start-up.
func TestPortsAreDistinct(t *testing.T) {
	l := Layout{BasePort: DefaultBasePort, Home: "/data"}
	seen := map[int]string{}
	for _, n := range l.Nodes() {
		for _, p := range n.Ports() {
			if other, dup := seen[p]; dup {
				t.Fatalf("port %d used by %s and %s", p, other, n.Name)
			}
			seen[p] = n.Name
		}
	}
	for _, ca := range l.CAs() {
		for _, p := range []int{ca.Port, ca.OpsPort} {
			if other, dup := seen[p]; dup {
				t.Fatalf("port %d used by %s and %s", p, other, ca.Name)
			}
			seen[p] = ca.Name
		}
	}
	for i := 0; i < 10; i++ {
		if other, dup := seen[l.ServicePort(i)]; dup {
			t.Fatalf("service port %d collides with %s", l.ServicePort(i), other)
		}
	}
	if len(l.Orderers()) != 3 || len(l.Peers()) != 3 {
		t.Fatalf("want 3 orderers and 3 peers, got %d and %d", len(l.Orderers()), len(l.Peers()))
	}
}

func TestPeerOfFindsEachOrg(t *testing.T) {
	l := Layout{BasePort: 20000}
	for _, org := range PeerOrgs() {
		p, ok := l.PeerOf(org.MSPID)
		if !ok || p.Org != org || p.Kind != Peer {
			t.Fatalf("PeerOf(%s) = %+v, %v", org.MSPID, p, ok)
		}
	}
	if _, ok := l.PeerOf("OrdererMSP"); ok {
		t.Fatal("PeerOf found a peer for the orderer org")
	}
}
