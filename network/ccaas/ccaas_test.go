package ccaas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fakeCert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
const fakeKey = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name     string
		metadata any
		wantErr  bool
	}{
		{"ccaas package", map[string]string{"type": "ccaas", "label": "x_1"}, false},
		{"type is case-insensitive", map[string]string{"type": "CCAAS"}, false},
		{"golang package is not ours", map[string]string{"type": "golang"}, true},
		{"no type", map[string]string{"label": "x"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeJSON(t, filepath.Join(dir, "metadata.json"), tt.metadata)
			if err := Detect(dir); (err != nil) != tt.wantErr {
				t.Fatalf("Detect() error = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
	if err := Detect(t.TempDir()); err == nil {
		t.Fatal("Detect without metadata.json succeeded")
	}
}

func TestBuildAndRelease(t *testing.T) {
	src, md, out, rel := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	writeJSON(t, filepath.Join(md, "metadata.json"), map[string]string{"type": "ccaas"})
	conn := Connection{Address: "127.0.0.1:17033", DialTimeout: "10s", TLSRequired: true, ClientAuthRequired: true,
		RootCert: fakeCert, ClientCert: fakeCert, ClientKey: fakeKey}
	writeJSON(t, filepath.Join(src, "connection.json"), conn)
	writeJSON(t, filepath.Join(src, "META-INF", "statedb", "couchdb", "indexes", "i.json"), map[string]string{"a": "b"})

	if err := Build(src, md, out, nil); err != nil {
		t.Fatalf("Build: %v", err)
	}
	if err := Release(out, rel); err != nil {
		t.Fatalf("Release: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(rel, "chaincode", "server", "connection.json"))
	if err != nil {
		t.Fatalf("released connection.json: %v", err)
	}
	var got Connection
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got != conn {
		t.Fatalf("released connection = %+v, want %+v", got, conn)
	}
	if _, err := os.Stat(filepath.Join(rel, "statedb", "couchdb", "indexes", "i.json")); err != nil {
		t.Fatalf("state database index not released: %v", err)
	}
}

func TestBuildRejectsBadConnection(t *testing.T) {
	tests := []struct {
		name string
		conn any
		want string
	}{
		{"no address", Connection{}, "address is required"},
		{"address without port", Connection{Address: "localhost"}, "host:port"},
		{"bad dial timeout", Connection{Address: "h:1", DialTimeout: "soon"}, "dial_timeout"},
		{"tls without root cert", Connection{Address: "h:1", TLSRequired: true}, "root_cert"},
		{"client auth without tls", Connection{Address: "h:1", ClientAuthRequired: true}, "needs tls_required"},
		{"client auth without key", Connection{Address: "h:1", TLSRequired: true, ClientAuthRequired: true, RootCert: fakeCert, ClientCert: fakeCert}, "client_key"},
		{"not json", "{", "connection.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, md, out := t.TempDir(), t.TempDir(), t.TempDir()
			writeJSON(t, filepath.Join(md, "metadata.json"), map[string]string{"type": "ccaas"})
			if s, ok := tt.conn.(string); ok {
				os.WriteFile(filepath.Join(src, "connection.json"), []byte(s), 0o644)
			} else {
				writeJSON(t, filepath.Join(src, "connection.json"), tt.conn)
			}
			err := Build(src, md, out, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build() error = %v, want it to mention %q", err, tt.want)
			}
			if _, statErr := os.Stat(filepath.Join(out, "connection.json")); statErr == nil {
				t.Fatal("Build wrote output for a bad package")
			}
		})
	}
}
