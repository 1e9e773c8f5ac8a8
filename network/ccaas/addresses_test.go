package ccaas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestBuildTakesTheLabelsAddress: two versions of the shared package built
// on one peer get the addresses the member listed for their labels, so the
// new version's server can run beside the old one; an unlisted label gets
// the plain address.
func TestBuildTakesTheLabelsAddress(t *testing.T) {
	dir := t.TempDir()
	addrs := filepath.Join(dir, "addresses.json")
	if err := WriteAddresses(addrs, map[string]string{"shiptrace_1.0": "127.0.0.1:17033", "shiptrace_1.1": "127.0.0.1:17037"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.crt", "client.crt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(fakeCert), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "client.key"), []byte(fakeKey), 0o600); err != nil {
		t.Fatal(err)
	}
	config := map[string]string{"address": "127.0.0.1:17033", AddressesKey: addrs,
		"root_cert_file": filepath.Join(dir, "ca.crt"), "client_cert_file": filepath.Join(dir, "client.crt"), "client_key_file": filepath.Join(dir, "client.key")}
	for label, want := range map[string]string{"shiptrace_1.0": "127.0.0.1:17033", "shiptrace_1.1": "127.0.0.1:17037", "shiptrace_9": "127.0.0.1:17033"} {
		src, md, out := t.TempDir(), t.TempDir(), t.TempDir()
		writeJSON(t, filepath.Join(md, "metadata.json"), map[string]string{"type": "ccaas", "label": label})
		writeJSON(t, filepath.Join(src, "connection.json"), SharedConnection)
		if err := Build(src, md, out, config); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		b, err := os.ReadFile(filepath.Join(out, "connection.json"))
		if err != nil {
			t.Fatal(err)
		}
		var c Connection
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		if c.Address != want {
			t.Errorf("%s built with address %s, want %s", label, c.Address, want)
		}
	}
	// A broken file is an error at install, not a wrong address.
	if err := os.WriteFile(addrs, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, md, out := t.TempDir(), t.TempDir(), t.TempDir()
	writeJSON(t, filepath.Join(md, "metadata.json"), map[string]string{"type": "ccaas", "label": "shiptrace_1.1"})
	writeJSON(t, filepath.Join(src, "connection.json"), SharedConnection)
	if err := Build(src, md, out, config); err == nil {
		t.Fatal("Build with a malformed addresses file succeeded")
	}
}
