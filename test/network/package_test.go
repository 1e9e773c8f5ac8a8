package network_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/network/ccaas"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// Every member's peer runs the chaincode definition under one package ID,
// and it is the ID of the package built from this checkout's contract source:
// a member can check, by building the package itself, that the code the
// consortium approved is the code it reviewed.
func TestEveryPeerHasThePackageBuiltFromThisSource(t *testing.T) {
	net := testnet.Require(t)
	local := net.Local(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := local.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	label := topology.Chaincode + "_" + st.Chaincode.Version
	pkg, err := local.ChaincodePackage(ctx, label)
	if err != nil {
		t.Fatal(err)
	}
	want := ccaas.PackageID(label, pkg)
	installed, err := local.InstalledPackages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, msp := range orgs {
		if !slices.Contains(installed[msp], want) {
			t.Errorf("%s's peer has %v installed, not %s", msp, installed[msp], want)
		}
		if st.Packages[msp] != want {
			t.Errorf("%s's chaincode server runs as %s, not %s", msp, st.Packages[msp], want)
		}
	}
	t.Logf("every peer: %s", want)
}
