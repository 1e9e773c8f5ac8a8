package hosts_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/topology"
)

// TestDownRemovesHostsLeftByACrash makes a network's hosts (namespaces,
// veth pairs, bridge) and then, as after a crash that lost network.json,
// runs `down` knowing only the data directory: it finds everything by the
// directory's tag and removes it.
func TestDownRemovesHostsLeftByACrash(t *testing.T) {
	if err := localnet.RequireNamespaces(); err != nil {
		t.Fatalf("hosts: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	home := t.TempDir()
	tag := topology.HostTag(home)
	t.Cleanup(func() { _ = localnet.RemoveHosts(context.Background(), tag) })
	hosts, err := localnet.ChooseHosts(home)
	if err != nil {
		t.Fatal(err)
	}
	n := &localnet.Network{Layout: topology.Layout{Home: home, Hosts: hosts}, Out: io.Discard}
	if err := n.CreateHosts(ctx); err != nil {
		t.Fatal(err)
	}
	left, err := localnet.Leftovers(tag)
	if err != nil {
		t.Fatal(err)
	}
	hostCount := len(topology.HostNames())
	if len(left) != 2*hostCount+1 { // a namespace and a veth per host, and the bridge
		t.Fatalf("made %d namespaces and links, want %d: %v", len(left), 2*hostCount+1, left)
	}
	crashed := &localnet.Network{Layout: topology.Layout{Home: home}, Out: io.Discard}
	if err := crashed.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left, err := localnet.Leftovers(tag); err != nil || len(left) > 0 {
		t.Fatalf("after down without network.json: %v left (%v)", left, err)
	}
}
