package fabric

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoadRoundTripAndValidation(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := &Profile{Channel: "supplychain", Chaincode: "shiptrace", Orgs: map[string]Org{
		"ExporterMSP": {MSPID: "ExporterMSP",
			Peers: []Peer{{Name: "peer0", Endpoint: "127.0.0.1:17030", TLSRootCA: file("ca.pem"), ServerName: "127.0.0.1"}},
			Users: map[string]User{"User1": {Cert: file("c"), Key: file("k"), TLSCert: file("tc"), TLSKey: file("tk")}}},
	}}
	path := filepath.Join(dir, "connection.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Orgs["ExporterMSP"].Peers[0].Endpoint != "127.0.0.1:17030" {
		t.Fatalf("round trip lost the peer: %+v", got)
	}
	m, err := got.Member("exporter", "ExporterMSP", "User1")
	if err != nil || m.Name != "exporter" || len(m.Peers) != 1 || m.User != got.Orgs["ExporterMSP"].Users["User1"] {
		t.Fatalf("Member = %+v, %v; want User1 with the org's peer", m, err)
	}
	if _, err := got.Org("NopeMSP"); err == nil || !strings.Contains(err.Error(), "ExporterMSP") {
		t.Fatalf("unknown org: err = %v, want it to list the known ones", err)
	}

	// A missing file is reported with the org, user and field it belongs to.
	if err := os.Remove(filepath.Join(dir, "tk")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "org ExporterMSP user User1 tlsKey") {
		t.Fatalf("missing TLS key: err = %v", err)
	}
}
