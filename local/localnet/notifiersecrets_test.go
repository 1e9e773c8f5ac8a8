package localnet

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shiptrace/shiptrace/local/topology"
)

func TestNotifierSecretsAreMadeOnceAndKept(t *testing.T) {
	n := &Network{Layout: topology.Layout{Home: t.TempDir()}}
	key, token, err := n.notifierSecrets()
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(key)
	if _, _, err := n.notifierSecrets(); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(key); string(again) != string(first) || len(first) < 64 {
		t.Errorf("phone reference key %q then %q: a new key would make the store refuse to open", first, again)
	}
	fi, err := os.Stat(token)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v, mode %v", err, fi.Mode())
	}
	if got, err := n.NotifierAdminToken(); err != nil || len(got) != 64 {
		t.Errorf("admin token %q, %v", got, err)
	}
}

func TestTrackingSecretIsSharedAndKept(t *testing.T) {
	n := &Network{Layout: topology.Layout{Home: t.TempDir()}}
	p, err := n.trackingSecretFile()
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(p)
	again, err := n.trackingSecretFile()
	if err != nil || again != p {
		t.Fatalf("second call: %q, %v", again, err)
	}
	if b, _ := os.ReadFile(p); string(b) != string(first) || len(strings.TrimSpace(string(first))) < 64 {
		t.Errorf("secret %q then %q: links already sent would stop working", first, b)
	}
	svcs, err := n.services()
	if err != nil {
		t.Fatal(err)
	}
	var uses int
	for _, s := range svcs {
		if slices.Contains(s.args, p) || slices.Contains(s.prepare, p) {
			uses++
		}
	}
	if uses != 2 {
		t.Errorf("%d services get the tracking secret, want the gateway and the notifier", uses)
	}
}
