package localnet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A high-S self-signed CA certificate, as cryptogen makes about half the time,
// must come out low-S everywhere it is copied, and certificates it issued must
// still verify against it.
func TestNormaliseCACertsResignsHighSAndKeepsLeavesValid(t *testing.T) {
	root := t.TempDir()
	orgDir := filepath.Join(root, "peerOrganizations", "x.shiptrace")
	key, caDER := highSCA(t)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(orgDir, "ca", "priv_sk"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	write(t, filepath.Join(orgDir, "ca", "ca.x.shiptrace-cert.pem"), caPEM)
	copies := []string{
		filepath.Join(orgDir, "msp", "cacerts", "ca.x.shiptrace-cert.pem"),
		filepath.Join(orgDir, "peers", "peer0.x.shiptrace", "tls", "ca.crt"),
	}
	for _, c := range copies {
		write(t, c, caPEM)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := issueLeaf(t, ca, key)

	fixed, err := normaliseCACerts(root)
	if err != nil {
		t.Fatal(err)
	}
	if fixed != 1 {
		t.Fatalf("fixed %d CA certificates, want 1", fixed)
	}
	if err := checkLowS(root); err != nil {
		t.Fatal(err)
	}
	newPEM, _ := os.ReadFile(filepath.Join(orgDir, "ca", "ca.x.shiptrace-cert.pem"))
	if bytes.Equal(newPEM, caPEM) {
		t.Fatal("CA certificate unchanged")
	}
	for _, c := range copies {
		if b, _ := os.ReadFile(c); !bytes.Equal(b, newPEM) {
			t.Errorf("copy %s not replaced", c)
		}
	}
	newCA, err := parsePEMCert(newPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(newCA)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Fatalf("leaf no longer verifies against the re-signed CA: %v", err)
	}
	// Running it again finds nothing to do.
	if fixed, err := normaliseCACerts(root); err != nil || fixed != 0 {
		t.Fatalf("second run: fixed %d, err %v; want 0, nil", fixed, err)
	}
}

func highSCA(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca.x.shiptrace", Organization: []string{"x.shiptrace"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, SubjectKeyId: []byte{1, 2, 3, 4}}
	for i := 0; i < 200; i++ {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		if low, _ := isLowS(c.Signature, &key.PublicKey); !low {
			return key, der
		}
	}
	t.Fatal("no high-S signature in 200 tries")
	return nil, nil
}

func issueLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "peer0.x.shiptrace"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), AuthorityKeyId: ca.SubjectKeyId}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, lowSSigner{caKey})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
