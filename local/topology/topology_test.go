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

// On the hosts layout every host has its own address on the /24, every
// link name fits Linux's 15 bytes, and every node and CA sits on its
// organisation's (or orderer's) host; on one host everything is 127.0.0.1.
func TestHostsLayout(t *testing.T) {
	tag := HostTag("/some/data/dir")
	if tag != HostTag("/some/data/dir") || tag == HostTag("/other/dir") || len(tag) != 8 {
		t.Fatalf("tag %q: want 8 bytes, stable per directory, different between directories", tag)
	}
	l := Layout{BasePort: 27000, Hosts: &Hosts{Tag: tag, Subnet: 193}}
	ips := map[string]string{}
	for _, h := range l.AllHosts() {
		if other, dup := ips[h.IP]; dup {
			t.Fatalf("%s and %s share %s", h.Name, other, h.IP)
		}
		ips[h.IP] = h.Name
		for _, link := range []string{h.Veth, h.Veth + "p", l.Hosts.Bridge()} {
			if len(link) > 15 {
				t.Errorf("link name %q longer than 15 bytes", link)
			}
		}
		if h.IP == l.Hosts.GatewayIP() {
			t.Errorf("%s has the bridge's address", h.Name)
		}
	}
	for _, n := range l.Nodes() {
		want := n.Name
		if n.Kind == Peer {
			want = n.Org.Label
		}
		if h := l.Host(want); n.IP != h.IP || n.NetNS != h.NetNS || n.IP == "127.0.0.1" {
			t.Errorf("%s on %s (%s), want host %s (%s)", n.Name, n.IP, n.NetNS, want, h.IP)
		}
	}
	for _, ca := range l.CAs() {
		if h := l.OrgHost(ca.Org); ca.IP != h.IP || ca.NetNS != h.NetNS {
			t.Errorf("%s on %s, want its organisation's host %s", ca.Name, ca.IP, h.IP)
		}
	}
	one := Layout{BasePort: 27000}
	for _, n := range one.Nodes() {
		if n.IP != "127.0.0.1" || n.NetNS != "" {
			t.Errorf("one host: %s on %s in %q", n.Name, n.IP, n.NetNS)
		}
	}
}

// A member that joins (shipnet org add) gets a host of its own after the
// founding hosts, a peer whose ports collide with nothing on any host, and
// a CA on its host; a name already in use, or malformed, is refused.
func TestJoinedOrgGetsItsOwnHost(t *testing.T) {
	l := Layout{BasePort: 27000, Hosts: &Hosts{Tag: HostTag("/data"), Subnet: 193}}
	org, err := l.JoiningOrg("Carrier2")
	if err != nil {
		t.Fatal(err)
	}
	if org.MSPID != "Carrier2MSP" || org.Label != "carrier2" || org.Domain != "carrier2.shiptrace" {
		t.Fatalf("JoiningOrg(Carrier2) = %+v", org)
	}
	l.Hosts.Joined = append(l.Hosts.Joined, org)
	if len(l.Peers()) != 4 || len(l.AllHosts()) != len(HostNames())+1 || len(l.CAs()) != 5 {
		t.Fatalf("after the join: %d peers, %d hosts, %d CAs; want 4, %d, 5", len(l.Peers()), len(l.AllHosts()), len(l.CAs()), len(HostNames())+1)
	}
	h := l.Host("carrier2")
	for _, other := range l.AllHosts()[:len(HostNames())] {
		if other.IP == h.IP || other.Veth == h.Veth || other.NetNS == h.NetNS {
			t.Fatalf("carrier2's host %+v shares with %+v", h, other)
		}
	}
	if len(h.Veth)+1 > 15 {
		t.Errorf("link name %q too long", h.Veth+"p")
	}
	p, ok := l.PeerOf("Carrier2MSP")
	if !ok || p.IP != h.IP || p.NetNS != h.NetNS {
		t.Fatalf("Carrier2's peer %+v, want on %+v", p, h)
	}
	// Its own host also binds the service ports (its gateway) and its CA's.
	taken := map[int]bool{}
	for i := 0; i < 40; i++ {
		taken[l.ServicePort(i)] = true
	}
	for _, port := range p.Ports() {
		if taken[port] {
			t.Errorf("carrier2's peer port %d is a service port", port)
		}
	}
	for _, ca := range l.CAs() {
		if ca.Org == org && (ca.IP != h.IP || taken[ca.Port] == false) {
			t.Errorf("carrier2's CA %+v, want on %s at a service port", ca, h.IP)
		}
	}
	if o, ok := l.OrgByMSPID("Carrier2MSP"); !ok || o != org {
		t.Errorf("OrgByMSPID(Carrier2MSP) = %+v, %v", o, ok)
	}
	for _, bad := range []string{"Carrier2", "Carrier", "carrier3", "Whatsapp", "Orderer", "X", "Bad-Name"} {
		if _, err := l.JoiningOrg(bad); err == nil {
			t.Errorf("JoiningOrg(%q) accepted", bad)
		}
	}
	if (Layout{BasePort: 27000}).PeerOrgs()[2] != RetailerOrg || len((Layout{}).PeerOrgs()) != 3 {
		t.Error("one host: the founding three only")
	}
}

// A member that left keeps its place: the hosts and ports of those that
// joined after it do not move, and its name cannot be taken again.
func TestLeftOrgKeepsItsPlace(t *testing.T) {
	l := Layout{BasePort: 27000, Hosts: &Hosts{Tag: HostTag("/data"), Subnet: 193}}
	for _, name := range []string{"Carrier2", "Carrier3"} {
		org, err := l.JoiningOrg(name)
		if err != nil {
			t.Fatal(err)
		}
		l.Hosts.Joined = append(l.Hosts.Joined, org)
	}
	before, _ := l.PeerOf("Carrier3MSP")
	var caBefore CA
	for _, ca := range l.CAs() {
		if ca.Org.MSPID == "Carrier3MSP" {
			caBefore = ca
		}
	}
	l.Hosts.Left = append(l.Hosts.Left, "Carrier2MSP")
	after, ok := l.PeerOf("Carrier3MSP")
	if !ok || after.IP != before.IP || after.Port != before.Port || after.NetNS != before.NetNS {
		t.Fatalf("Carrier3's peer moved when Carrier2 left: %+v, was %+v", after, before)
	}
	for _, ca := range l.CAs() {
		if ca.Org.MSPID == "Carrier3MSP" && ca != caBefore {
			t.Fatalf("Carrier3's CA moved when Carrier2 left: %+v, was %+v", ca, caBefore)
		}
		if ca.Org.MSPID == "Carrier2MSP" {
			t.Fatalf("the CA of Carrier2, which left, is still listed")
		}
	}
	if _, ok := l.PeerOf("Carrier2MSP"); ok || len(l.Peers()) != 4 || len(l.AllHosts()) != len(HostNames())+1 {
		t.Fatalf("after Carrier2 left: %d peers, %d hosts", len(l.Peers()), len(l.AllHosts()))
	}
	if _, err := l.JoiningOrg("Carrier2"); err == nil {
		t.Fatal("a member that left could join again under its old name")
	}
}
