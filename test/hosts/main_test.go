// Package hosts_test runs the consortium with every member on a host of its
// own (`shipnet up --hosts`: Linux network namespaces joined by a bridge)
// and checks what only separate hosts can show: every member reaches the
// others by their host addresses, each member's own gateway holds only its
// own organisation's keys, and a member cut off from the others (its link
// down) costs the others nothing and catches up when the link returns.
//
// The tests share one hosts network, separate from the one-host network the
// other packages use, and TestMain takes it down afterwards (processes,
// namespaces, veth pairs, bridge), whether the tests passed or failed.
package hosts_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/shiptrace/shiptrace/test/testnet"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testnet.DownHosts(); err != nil {
		fmt.Fprintln(os.Stderr, "hosts network not fully removed:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
