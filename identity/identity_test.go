package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/shiptrace/shiptrace/identity/plan"
)

// These tests run a real fabric-ca-server (the one `shipnet build` compiles
// from source into .cache/) on a free loopback port, configured from the same
// templates the local network uses.

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "network", "config", "fabric-ca-server-config.yaml.tmpl")); err == nil {
			return d
		}
	}
	t.Fatal("repository root not found")
	return ""
}

// caServerBinary builds the pinned Fabric CA through shipnet if needed.
func caServerBinary(t testing.TB) string {
	t.Helper()
	repo := repoRoot(t)
	shipnet := filepath.Join(repo, ".cache", "bin", "shipnet")
	for _, args := range [][]string{{"go", "build", "-o", shipnet, "./local/cmd/shipnet"}, {shipnet, "build"}} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	return filepath.Join(repo, ".cache", "fabric-ca-1.5.13", "bin", "fabric-ca-server")
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCA starts a CA server for a test organisation and returns its descriptor.
func startCA(t testing.TB) plan.CA {
	t.Helper()
	bin := caServerBinary(t)
	home := t.TempDir()
	port, ops := freePort(t), freePort(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	secret := hex.EncodeToString(b)
	data := map[string]any{"Port": port, "OpsPort": ops, "CAName": "ca-test", "TLSCAName": "tlsca-test",
		"AdminUser": Registrar, "AdminPass": secret, "Label": "test", "Domain": "test.shiptrace", "IP": "127.0.0.1"}
	if err := os.MkdirAll(filepath.Join(home, "tlsca"), 0o700); err != nil {
		t.Fatal(err)
	}
	for tmpl, out := range map[string]string{
		"fabric-ca-server-config.yaml.tmpl": filepath.Join(home, "fabric-ca-server-config.yaml"),
		"tlsca.yaml.tmpl":                   filepath.Join(home, "tlsca", "fabric-ca-config.yaml"),
	} {
		tp := template.Must(template.ParseFiles(filepath.Join(repoRoot(t), "network", "config", tmpl)))
		var sb strings.Builder
		if err := tp.Execute(&sb, data); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, []byte(sb.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secretFile := filepath.Join(home, "registrar.secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "start", "-H", home)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	ca := plan.CA{Org: "TestOrg", MSPID: "TestMSP", Domain: "test.shiptrace", URL: fmt.Sprintf("https://127.0.0.1:%d", port),
		CAName: "ca-test", TLSCAName: "tlsca-test", Home: home, SecretFile: secretFile, StoreDir: filepath.Join(home, "client-store")}
	deadline := time.Now().Add(20 * time.Second)
	for !caAnswers(ca) {
		if time.Now().After(deadline) {
			t.Fatalf("CA server did not start:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ca
}

func caAnswers(ca plan.CA) bool {
	root, err := os.ReadFile(ca.CARoot())
	if err != nil {
		return false
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(root)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(ca.URL + "/cainfo")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func parseCert(t testing.TB, b []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("not PEM: %q", b)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fabricAttrs reads the attributes Fabric CA embeds in an enrolment
// certificate (extension 1.2.3.4.5.6.7.8.1, JSON).
func fabricAttrs(t testing.TB, c *x509.Certificate) map[string]string {
	t.Helper()
	for _, ext := range c.Extensions {
		if ext.Id.String() == "1.2.3.4.5.6.7.8.1" {
			var v struct{ Attrs map[string]string }
			if err := json.Unmarshal(ext.Value, &v); err != nil {
				t.Fatal(err)
			}
			return v.Attrs
		}
	}
	return nil
}

func TestIssueWritesAnMSPWithTheRoleAndASeparateTLSIdentity(t *testing.T) {
	ca := startCA(t)
	c, err := New(ca)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	m := plan.Member{Name: "logger-7", Type: "client", Role: "sensor", MSPDir: filepath.Join(dir, "msp"),
		CertFile: "logger-7-cert.pem", TLSDir: filepath.Join(dir, "tls"), Hosts: []string{"127.0.0.1"}}
	if err := c.Issue(m); err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, "msp", "signcerts", "logger-7-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCert(t, certPEM)
	if got := fabricAttrs(t, cert)[RoleAttribute]; got != "sensor" {
		t.Errorf("ECert %s attribute = %q, want sensor", RoleAttribute, got)
	}
	if !contains(cert.Subject.OrganizationalUnit, "client") {
		t.Errorf("ECert OUs %v lack the NodeOU client", cert.Subject.OrganizationalUnit)
	}
	caRoot, _ := os.ReadFile(ca.CARoot())
	tlsRoot, _ := os.ReadFile(ca.TLSCARoot())
	if err := cert.CheckSignatureFrom(parseCert(t, caRoot)); err != nil {
		t.Errorf("ECert not issued by the enrolment CA: %v", err)
	}
	tlsCert := parseCert(t, mustRead(t, filepath.Join(dir, "tls", "client.crt")))
	if err := tlsCert.CheckSignatureFrom(parseCert(t, tlsRoot)); err != nil {
		t.Errorf("TLS certificate not issued by the TLS CA: %v", err)
	}
	if tlsCert.CheckSignatureFrom(parseCert(t, caRoot)) == nil {
		t.Error("TLS certificate verifies against the enrolment CA: the two roots must differ")
	}
	if len(tlsCert.IPAddresses) == 0 || !tlsCert.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("TLS certificate IP SANs = %v, want 127.0.0.1", tlsCert.IPAddresses)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls", "client.crt"), filepath.Join(dir, "tls", "client.key")); err != nil {
		t.Errorf("TLS certificate and key do not match: %v", err)
	}
	cfg := mustRead(t, filepath.Join(dir, "msp", "config.yaml"))
	if !bytes.Contains(cfg, []byte("Enable: true")) {
		t.Errorf("MSP config.yaml does not enable NodeOUs:\n%s", cfg)
	}
	if err := c.Issue(m); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("issuing the same name twice: err = %v, want 'already registered'", err)
	}
}

func TestReenrollGivesANewKeyAndRevokeListsTheCertificate(t *testing.T) {
	ca := startCA(t)
	c, err := New(ca)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	secret, err := c.Register(Registration{Name: "erp-1", Type: "client", Role: "exporter_operator"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Enroll("erp-1", secret)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Reenroll("erp-1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first.Key, second.Key) || bytes.Equal(first.Cert, second.Cert) {
		t.Fatal("re-enrolment kept the old key or certificate")
	}
	// The role is registered with ecert: true, so a re-enrolment that asks
	// for no particular attributes carries it again.
	if got := fabricAttrs(t, parseCert(t, second.Cert))[RoleAttribute]; got != "exporter_operator" {
		t.Errorf("re-enrolled ECert %s attribute = %q, want exporter_operator", RoleAttribute, got)
	}
	crlPEM, err := c.Revoke("erp-1", "keycompromise")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(crlPEM)
	if block == nil {
		t.Fatalf("CRL is not PEM: %q", crlPEM)
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	revoked := map[string]bool{}
	for _, e := range crl.RevokedCertificateEntries {
		revoked[e.SerialNumber.String()] = true
	}
	for _, pemCert := range [][]byte{first.Cert, second.Cert} {
		if sn := parseCert(t, pemCert).SerialNumber.String(); !revoked[sn] {
			t.Errorf("certificate %s is not in the CRL", sn)
		}
	}
	ids, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, id := range ids {
		names = append(names, id.Name+"/"+id.Role)
	}
	sort.Strings(names)
	if !contains(names, "erp-1/exporter_operator") {
		t.Errorf("List() = %v, want erp-1 with its role", names)
	}
}

// TestRegisterRefusesAUserWithoutARole pins that every identity that signs
// as a user is registered with a role: the contract refuses a certificate
// without one everything. Node identities need none, and a TLS-only member
// (a chaincode server) is registered at the TLS CA alone.
func TestRegisterRefusesAUserWithoutARole(t *testing.T) {
	ca := startCA(t)
	c, err := New(ca)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, typ := range []string{"", "client", "admin"} {
		_, err := c.Register(Registration{Name: "no-role-" + typ, Type: typ})
		if err == nil || !strings.Contains(err.Error(), "needs a role") {
			t.Errorf("Register(type %q, no role): err = %v, want 'needs a role'", typ, err)
		}
	}
	if _, err := c.Register(Registration{Name: "peer9.example", Type: "peer"}); err != nil {
		t.Errorf("Register(peer, no role): %v", err)
	}
	dir := t.TempDir()
	if err := c.Issue(plan.Member{Name: "ccaas.example", Type: "client", TLSDir: dir, Server: true,
		Hosts: []string{"127.0.0.1"}}); err != nil {
		t.Fatalf("Issue(TLS-only member): %v", err)
	}
	ids, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if id.Name == "ccaas.example" {
			t.Error("a TLS-only member is registered at the enrolment CA")
		}
	}
}

// BenchmarkEnroll measures register + enrol (ECert) round trips against a
// local CA server: go test ./identity -run '^$' -bench Enroll
func BenchmarkEnroll(b *testing.B) {
	ca := startCA(b)
	c, err := New(ca)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("device-%d", i)
		secret, err := c.Register(Registration{Name: name, Type: "client", Role: "sensor"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Enroll(name, secret); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "enrolments/s")
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
