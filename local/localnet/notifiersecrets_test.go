package localnet

import (
	"os"
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
