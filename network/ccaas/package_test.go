package ccaas

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cleanCopy copies the chaincode and domain modules of this repository into a
// fresh directory, as a member's checkout of the same commit would have them
// (another path, other file times), and returns the chaincode module's folder.
func cleanCopy(t *testing.T) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for _, mod := range []string{"chaincode", "shipment"} {
		if err := os.CopyFS(filepath.Join(dst, mod), os.DirFS(filepath.Join(repo, mod))); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dst, "chaincode")
}

func packageIDOf(t *testing.T, chaincodeDir string) string {
	t.Helper()
	digest, err := SourceDigest(context.Background(), chaincodeDir, "./cmd/shiptrace-cc")
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := Package("shiptrace_1.0", digest)
	if err != nil {
		t.Fatal(err)
	}
	return PackageID("shiptrace_1.0", pkg)
}

// Every member builds the chaincode package from its own checkout; the
// definition commits only if their package IDs agree, and equal IDs must mean
// equal contract code.
func TestPackageIDIsReproducibleAndFollowsTheCode(t *testing.T) {
	a, b := cleanCopy(t), cleanCopy(t)
	idA, idB := packageIDOf(t, a), packageIDOf(t, b)
	if idA != idB {
		t.Fatalf("two clean copies of the same source give package IDs %s and %s", idA, idB)
	}
	t.Logf("package ID %s", idA)

	// What the chaincode is not compiled from does not count.
	appendTo(t, filepath.Join(b, "README.md"), "\nA note.\n")
	appendTo(t, filepath.Join(b, "..", "shipment", "validate_test.go"), "\n// A comment in a test.\n")
	if id := packageIDOf(t, b); id != idA {
		t.Errorf("a README and a test change moved the package ID to %s", id)
	}

	// A one-line change of the domain the contract compiles in does.
	appendTo(t, filepath.Join(b, "..", "shipment", "shipment.go"), "\n// A comment in the domain.\n")
	if id := packageIDOf(t, b); id == idA {
		t.Error("changing the domain's source left the package ID unchanged")
	}
	// And so does a dependency's version, through go.sum.
	c := cleanCopy(t)
	appendTo(t, filepath.Join(c, "go.sum"), "example.com/x v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	if id := packageIDOf(t, c); id == idA {
		t.Error("changing go.sum left the package ID unchanged")
	}
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// The package holds nothing that belongs to one member: no address, no
// certificate, no key.
func TestPackageCarriesNoMemberData(t *testing.T) {
	pkg, err := Package("shiptrace_1.0", "h1:x")
	if err != nil {
		t.Fatal(err)
	}
	outer := untar(t, pkg)
	var md map[string]string
	if err := json.Unmarshal(outer["metadata.json"], &md); err != nil || md["type"] != Type || md["label"] != "shiptrace_1.0" {
		t.Fatalf("metadata.json = %s (%v)", outer["metadata.json"], err)
	}
	code := untar(t, outer["code.tar.gz"])
	if got := string(code[SourceFile]); got != "h1:x\n" {
		t.Errorf("%s = %q", SourceFile, got)
	}
	conn := string(code["connection.json"])
	for _, s := range []string{"BEGIN", "127.0.0.1", "PRIVATE"} {
		if strings.Contains(conn, s) {
			t.Errorf("connection.json holds %q: %s", s, conn)
		}
	}
}

func untar(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name], _ = io.ReadAll(tr)
	}
}

// Each peer renders the shared connection.json from its own configuration;
// a peer without it fails the install with a message naming what is missing.
func TestBuildRendersThePeersConfiguration(t *testing.T) {
	dir := t.TempDir()
	for name, pem := range map[string]string{"ca.crt": fakeCert, "server.crt": fakeCert, "server.key": fakeKey} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(pem), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config, err := ParseConfig(`{"address":"127.0.0.1:17033","root_cert_file":"` + filepath.Join(dir, "ca.crt") +
		`","client_cert_file":"` + filepath.Join(dir, "server.crt") + `","client_key_file":"` + filepath.Join(dir, "server.key") + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	src, md, out := t.TempDir(), t.TempDir(), t.TempDir()
	writeJSON(t, filepath.Join(md, "metadata.json"), map[string]string{"type": "ccaas"})
	writeJSON(t, filepath.Join(src, "connection.json"), SharedConnection)
	if err := Build(src, md, out, config); err != nil {
		t.Fatalf("Build: %v", err)
	}
	var got Connection
	b, _ := os.ReadFile(filepath.Join(out, "connection.json"))
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := Connection{Address: "127.0.0.1:17033", DialTimeout: "10s", TLSRequired: true, ClientAuthRequired: true,
		RootCert: fakeCert, ClientCert: fakeCert, ClientKey: fakeKey}
	if got != want {
		t.Fatalf("rendered connection = %+v, want %+v", got, want)
	}

	delete(config, "client_key_file")
	out = t.TempDir()
	err = Build(src, md, out, config)
	if err == nil || !strings.Contains(err.Error(), "client_key") || !strings.Contains(err.Error(), ConfigEnv) {
		t.Fatalf("Build without client_key_file: %v", err)
	}
	if _, err := ParseConfig(`["not an object"]`); err == nil {
		t.Error("ParseConfig accepted a JSON array")
	}
}
