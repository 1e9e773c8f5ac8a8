package upgrade_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/test/testnet"
	"github.com/shiptrace/shiptrace/test/upgrade"
)

// TestRollbackToThePreviousPackage is the runbook's rollback: after an
// upgrade, a new sequence that names the previous package again. The
// previous package is still installed and its server address kept, so
// `deploy --version <the previous version>` brings its server back beside
// the new one, every org approves, the commit switches back, and writes
// still commit.
func TestRollbackToThePreviousPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("upgrades and rolls back the chaincode of the real network")
	}
	net := testnet.Require(t)
	before := upgrade.ContractVersion(t, net, "RetailerMSP")
	st, err := net.Local(t).LoadState()
	if err != nil {
		t.Fatal(err)
	}
	prevVersion, seq := st.Chaincode.Version, st.Chaincode.Sequence
	if !strings.HasPrefix(before, "shiptrace_"+prevVersion+":") {
		t.Fatalf("running package %s is not version %s", before, prevVersion)
	}

	version := "1.1-" + strings.ToLower(walk.NewID("r")[2:])
	net.Shipnet(t, "deploy", "--version", version)
	if got := upgrade.ContractVersion(t, net, "RetailerMSP"); !strings.HasPrefix(got, "shiptrace_"+version+":") {
		t.Fatalf("after the upgrade: %s", got)
	}
	out := net.Shipnet(t, "deploy", "--version", prevVersion)
	t.Logf("rollback to %s:\n%s", prevVersion, out)
	if got := upgrade.ContractVersion(t, net, "RetailerMSP"); got != before {
		t.Fatalf("after the rollback the package is %s, want the previous %s", got, before)
	}
	st, err = net.Local(t).LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if st.Chaincode.Sequence != seq+2 {
		t.Errorf("sequence %d after upgrade and rollback, want %d", st.Chaincode.Sequence, seq+2)
	}
	for _, p := range net.Status(t) {
		if p.Kind == "chaincode" && !p.Up {
			t.Errorf("chaincode server %s not up after the rollback: %s", p.Name, p.Note)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := net.System(t).ReadyClient(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, walk.NewShipment(walk.NewID("UPG-RB"), nil), ""); err != nil {
		t.Fatalf("a write after the rollback: %v", err)
	}
	t.Logf("rolled back from %s to %s at sequence %d; writes commit", version, before, st.Chaincode.Sequence)
}
