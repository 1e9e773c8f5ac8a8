// Package upgrade_test upgrades the contract on the one-host network under
// load (the scenario is package upgrade's, shared with test/hosts) and rolls
// it back.
package upgrade_test

import (
	"testing"

	"github.com/shiptrace/shiptrace/test/testnet"
	"github.com/shiptrace/shiptrace/test/upgrade"
)

func TestUpgradeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("upgrades the chaincode of the real network under load")
	}
	upgrade.UnderLoad(t, testnet.Require(t))
}
