package hosts_test

import (
	"testing"

	"github.com/shiptrace/shiptrace/test/testnet"
	"github.com/shiptrace/shiptrace/test/upgrade"
)

// TestUpgradeUnderLoadAcrossHosts is test/upgrade's scenario with every
// member on its own host: the new package's chaincode servers start in the
// members' namespaces, each organisation's admin approves in turn, and the
// load's creates, readings and ships go through the exporter's and the
// carrier's own gateways, while the exporter's notifier sends the buyers'
// messages. No request may fail, no event be lost, doubled or reordered,
// no message be sent other than once.
func TestUpgradeUnderLoadAcrossHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("upgrades the chaincode of the hosts network under load")
	}
	upgrade.UnderLoad(t, testnet.RequireHosts(t))
}
