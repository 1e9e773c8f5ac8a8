package testnet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/topology"
)

// The hosts network (`shipnet up --hosts`): every organisation and orderer on
// a network namespace of its own. It is separate from the shared network
// (its own data directory, SHIPTRACE_HOSTS_HOME, default
// <repo>/.shiptrace-hosts), so the tests of the one-host network are
// unaffected; the tests that use it share one copy per test binary and take
// it down at the end (DownHosts from TestMain), also when they fail.

var (
	hostsOnce sync.Once
	hostsNet  *Network
	hostsErr  error
)

// HostsHome is the hosts network's data directory.
func HostsHome() (string, error) {
	if h := os.Getenv("SHIPTRACE_HOSTS_HOME"); h != "" {
		return filepath.Abs(h)
	}
	repo, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(repo, ".shiptrace-hosts"), nil
}

// RequireHosts returns the running hosts network, starting it if needed.
// Where namespaces cannot be made (no root, no iproute2, a container
// without CAP_NET_ADMIN) the test fails naming what is missing: it never
// skips.
func RequireHosts(t testing.TB) *Network {
	t.Helper()
	if err := localnet.RequireNamespaces(); err != nil {
		t.Fatalf("hosts network: %v", err)
	}
	hostsOnce.Do(func() { hostsNet, hostsErr = bringUpHosts() })
	if hostsErr != nil {
		t.Fatalf("hosts network: %v", hostsErr)
	}
	return hostsNet
}

func bringUpHosts() (*Network, error) {
	repo, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	home, err := HostsHome()
	if err != nil {
		return nil, err
	}
	n := &Network{Repo: repo, Home: home, shipnet: filepath.Join(repo, ".cache", "bin", "shipnet-hosts")}
	if err := os.MkdirAll(filepath.Dir(n.shipnet), 0o755); err != nil {
		return nil, err
	}
	build := exec.Command("go", "build", "-o", n.shipnet, "./local/cmd/shipnet")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build shipnet: %v\n%s", err, out)
	}
	out, err := n.run("up", "--hosts")
	if err != nil {
		return nil, fmt.Errorf("shipnet up --hosts: %v\n%s", err, out)
	}
	n.UpOutput = out
	prof, err := fabric.Load(filepath.Join(home, "connection.json"))
	if err != nil {
		return nil, err
	}
	n.Profile = prof
	return n, nil
}

// DownHosts takes the hosts network down (processes, namespaces, links,
// data) unless KEEP_NETWORK is set, and reports what is left of its
// namespaces and links: nothing, or the names. TestMain calls it after the
// tests, so it runs whether they passed or failed.
func DownHosts() error {
	home, err := HostsHome()
	if err != nil {
		return err
	}
	if os.Getenv("KEEP_NETWORK") != "" {
		return nil
	}
	repo, err := RepoRoot()
	if err != nil {
		return err
	}
	n := &Network{Repo: repo, Home: home, shipnet: filepath.Join(repo, ".cache", "bin", "shipnet-hosts")}
	var downErr error
	if _, err := os.Stat(n.shipnet); err == nil {
		if out, err := n.run("down"); err != nil {
			downErr = fmt.Errorf("shipnet down: %v\n%s", err, out)
		}
	}
	tag := topology.HostTag(home)
	if err := localnet.RemoveHosts(context.Background(), tag); err != nil && downErr == nil {
		downErr = err
	}
	if left, err := localnet.Leftovers(tag); err != nil || len(left) > 0 {
		return fmt.Errorf("after down, still there: %v (%v); %v", left, err, downErr)
	}
	return downErr
}
