package fabric

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeEnrolment writes a self-signed certificate and its key into dir in
// the MSP layout, and a TLS root, and returns dir.
func writeEnrolment(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for path, b := range map[string][]byte{
		filepath.Join(dir, "msp", "signcerts", name+"-cert.pem"): certPEM,
		filepath.Join(dir, "msp", "keystore", "priv_sk"):         pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		filepath.Join(dir, "tlsca.pem"):                          certPEM,
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMSPUserNamesTheFilesOfAnMSPFolder(t *testing.T) {
	dir := writeEnrolment(t, "logger-7")
	u, err := MSPUser(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := User{
		Cert:    filepath.Join(dir, "msp", "signcerts", "logger-7-cert.pem"),
		Key:     filepath.Join(dir, "msp", "keystore", "priv_sk"),
		TLSCert: filepath.Join(dir, "tls", "client.crt"),
		TLSKey:  filepath.Join(dir, "tls", "client.key"),
	}
	if u != want {
		t.Fatalf("MSPUser = %+v, want %+v", u, want)
	}
	if _, err := MSPUser(t.TempDir()); err == nil {
		t.Fatal("a folder without an enrolment gave a user")
	}
}

func TestFileMemberTakesFilesOrMSPFolders(t *testing.T) {
	dir := writeEnrolment(t, "notifier")
	files, err := MSPUser(dir)
	if err != nil {
		t.Fatal(err)
	}
	peer := Peer{Endpoint: "127.0.0.1:7051", TLSRootCA: filepath.Join(dir, "tlsca.pem")}
	tests := []struct {
		name      string
		cert, key string
	}{
		{"files", files.Cert, files.Key},
		{"msp folders", filepath.Join(dir, "msp", "signcerts"), filepath.Join(dir, "msp", "keystore")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := FileMember("notifier", "ExporterMSP", peer, User{Cert: tt.cert, Key: tt.key})
			if err != nil {
				t.Fatal(err)
			}
			if m.User.Cert != files.Cert || m.User.Key != files.Key {
				t.Fatalf("user %+v, want the files %s and %s", m.User, files.Cert, files.Key)
			}
			if len(m.Peers) != 1 || m.Peers[0].Name != peer.Endpoint {
				t.Fatalf("peers %+v, want the one peer named by its endpoint", m.Peers)
			}
		})
	}
	if _, err := FileMember("notifier", "ExporterMSP", peer, User{Cert: filepath.Join(dir, "nope"), Key: files.Key}); err == nil {
		t.Fatal("a missing certificate gave a member")
	}
}

// A client opened on a member without mutual TLS connects lazily, and hands
// out fabric-gateway's Network for event streams by member name.
func TestOpenGivesTheMembersNetwork(t *testing.T) {
	dir := writeEnrolment(t, "notifier")
	m, err := FileMember("notifier", "ExporterMSP",
		Peer{Endpoint: "127.0.0.1:1", TLSRootCA: filepath.Join(dir, "tlsca.pem")},
		User{Cert: filepath.Join(dir, "msp", "signcerts"), Key: filepath.Join(dir, "msp", "keystore")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open([]Member{m}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Network("notifier"); err != nil || n == nil || n.Name() != "supplychain" {
		t.Fatalf("Network = %v, %v; want the supplychain channel", n, err)
	}
	if _, err := c.Network("nobody"); !errors.Is(err, ErrUnknownIdentity) {
		t.Fatalf("unknown member: err = %v, want ErrUnknownIdentity", err)
	}
}

// TestUpdateAddsAndRemovesMembersWhileServing: a member added later is
// usable at once, one removed is unknown from then on, and one that did not
// change keeps its state; a bad update changes nothing.
func TestUpdateAddsAndRemovesMembersWhileServing(t *testing.T) {
	member := func(name string) Member {
		dir := writeEnrolment(t, name)
		m, err := FileMember(name, "CarrierMSP", Peer{Endpoint: "127.0.0.1:1", TLSRootCA: filepath.Join(dir, "tlsca.pem")},
			User{Cert: filepath.Join(dir, "msp", "signcerts"), Key: filepath.Join(dir, "msp", "keystore")})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	carrier, logger := member("carrier"), member("logger-7")
	c, err := Open([]Member{carrier}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before, _ := c.member("carrier")

	if err := c.Update([]Member{carrier, logger}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Network("logger-7"); err != nil {
		t.Fatalf("the added member: %v", err)
	}
	if now, _ := c.member("carrier"); now != before {
		t.Error("an unchanged member was replaced")
	}
	if len(c.conns) != 1 {
		t.Errorf("%d connections, want the one to 127.0.0.1:1 shared", len(c.conns))
	}

	if err := c.Update([]Member{logger}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Network("carrier"); !errors.Is(err, ErrUnknownIdentity) {
		t.Fatalf("the removed member: %v, want ErrUnknownIdentity", err)
	}

	broken := logger
	broken.Name, broken.User.Cert = "broken", filepath.Join(t.TempDir(), "missing.pem")
	if err := c.Update([]Member{carrier, broken}); err == nil {
		t.Fatal("an update with a missing certificate was accepted")
	}
	if _, err := c.Network("logger-7"); err != nil {
		t.Fatalf("after a refused update: %v, want the members as before", err)
	}
	if got := c.Identities(); len(got) != 1 || got["logger-7"] != "CarrierMSP" {
		t.Errorf("identities %v", got)
	}
}
