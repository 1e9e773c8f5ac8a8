package hosts_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// TestMembersRunOnTheirOwnHosts checks the layout itself: every process is
// up inside its host's namespace and listens on that host's address only
// (nothing on 127.0.0.1, so nothing crosses between organisations over
// loopback), every node's TLS certificate names its host's address, and the
// connection profile points at host addresses.
func TestMembersRunOnTheirOwnHosts(t *testing.T) {
	net := testnet.RequireHosts(t)
	for _, line := range strings.Split(net.UpOutput, "\n") {
		if strings.HasPrefix(line, "network up:") || strings.Contains(line, "create 7 hosts") {
			t.Logf("figure: %s", strings.TrimSpace(line))
		}
	}
	l := net.Layout(t)
	if l.Hosts == nil {
		t.Fatalf("the network in %s does not run on hosts (network.json has no hosts)", net.Home)
	}
	for _, s := range net.Status(t) {
		if !s.Up {
			t.Errorf("%s is down: %s", s.Name, s.Note)
		}
	}

	// Which host each process must be on, and what it must listen on.
	want := map[string]int{} // host -> listeners at least
	for _, o := range l.Orderers() {
		want[o.Name] = 3
	}
	for _, org := range topology.PeerOrgs() {
		want[org.Label] = 4 + 2 + 1 // peer (3) and chaincode server, CA (2), gateway
	}
	want["exporter"] += 3 // notifier: webhook, admin, health
	want["orderer1"] += 2 // the orderer organisation's CA
	want["whatsapp"] = 1
	for _, h := range l.AllHosts() {
		out, err := exec.Command(proc.IPCommand, "netns", "exec", h.NetNS, "ss", "-Hltn").CombinedOutput()
		if err != nil {
			t.Fatalf("ss in %s: %v: %s", h.NetNS, err, out)
		}
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			n++
			if host, _, _ := strings.Cut(f[3], ":"); host != h.IP {
				t.Errorf("host %s (%s): a process listens on %s, not on the host's address", h.Name, h.NetNS, f[3])
			}
		}
		if n < want[h.Name] {
			t.Errorf("host %s: %d listeners on %s, want at least %d:\n%s", h.Name, n, h.IP, want[h.Name], out)
		}
	}

	// TLS certificates carry the host's address.
	for _, node := range l.Nodes() {
		cert := readCert(t, filepath.Join(l.NodeTLSDir(node), "server.crt"))
		if !hasIP(cert, node.IP) {
			t.Errorf("%s: TLS certificate names %v, not its host address %s", node.Name, cert.IPAddresses, node.IP)
		}
	}
	for _, org := range topology.PeerOrgs() {
		cert := readCert(t, filepath.Join(l.CCServerTLSDir(org), "server.crt"))
		if ip := l.OrgHost(org).IP; !hasIP(cert, ip) {
			t.Errorf("chaincode server of %s: TLS certificate names %v, not %s", org.MSPID, cert.IPAddresses, ip)
		}
	}
	for msp, org := range net.Profile.Orgs {
		for _, p := range org.Peers {
			if strings.HasPrefix(p.Endpoint, "127.") || strings.HasPrefix(p.Endpoint, "localhost") {
				t.Errorf("connection profile: %s's peer at %s, on loopback", msp, p.Endpoint)
			}
		}
	}

	// The hosts reach each other only through the bridge: a host does not
	// see another host's listeners on its own loopback.
	ex, ca := l.Host("exporter"), l.Host("carrier")
	peer, _ := l.PeerOf(topology.CarrierOrg.MSPID)
	if out, err := exec.Command(proc.IPCommand, "netns", "exec", ex.NetNS, "bash", "-c",
		"exec 3<>/dev/tcp/127.0.0.1/"+itoa(peer.Port)).CombinedOutput(); err == nil {
		t.Errorf("from %s, 127.0.0.1:%d (the carrier's peer port) answers: loopback crosses hosts (%s)", ex.Name, peer.Port, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, proc.IPCommand, "netns", "exec", ex.NetNS, "bash", "-c",
		"exec 3<>/dev/tcp/"+ca.IP+"/"+itoa(peer.Port)).CombinedOutput(); err != nil {
		t.Errorf("from %s, the carrier's peer at %s:%d does not answer: %v %s", ex.Name, ca.IP, peer.Port, err, out)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func hasIP(c *x509.Certificate, ip string) bool {
	for _, a := range c.IPAddresses {
		if a.String() == ip {
			return true
		}
	}
	return false
}
