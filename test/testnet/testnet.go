// Package testnet gives integration tests the real local Fabric network.
//
// Require uses the network in the data directory (SHIPTRACE_HOME, default
// <repo>/.shiptrace) and starts it with `shipnet up` if it is not running, the
// same command the README's quick start uses. Test packages run in parallel
// processes, so start-up is serialised with a file lock. Tests share the one
// network: they must use fresh identifiers (see UniqueID) and never assume an
// empty ledger.
package testnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/status"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
)

// Network is a running local network.
type Network struct {
	Repo    string
	Home    string
	Profile *fabric.Profile
	shipnet string // path of the built shipnet command
	// UpOutput is what `shipnet up` printed when this test binary started
	// the network (its step timings), "" when it found it running.
	UpOutput string
}

var (
	once    sync.Once
	shared  *Network
	initErr error
)

// Require returns the running network, starting it if needed. It fails the
// test (never skips it) when the network cannot be brought up.
func Require(t testing.TB) *Network {
	t.Helper()
	once.Do(func() { shared, initErr = bringUp() })
	if initErr != nil {
		t.Fatalf("local Fabric network: %v", initErr)
	}
	return shared
}

func bringUp() (*Network, error) {
	repo, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	home := os.Getenv("SHIPTRACE_HOME")
	if home == "" {
		home = filepath.Join(repo, ".shiptrace")
	}
	n := &Network{Repo: repo, Home: home, shipnet: filepath.Join(repo, ".cache", "bin", "shipnet")}
	if err := os.MkdirAll(filepath.Dir(n.shipnet), 0o755); err != nil {
		return nil, err
	}
	unlock, err := lock(filepath.Join(repo, ".cache", "testnet.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	build := exec.Command("go", "build", "-o", n.shipnet, "./local/cmd/shipnet")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build shipnet: %v\n%s", err, out)
	}
	if out, err := n.run("up"); err != nil {
		return nil, fmt.Errorf("shipnet up: %v\n%s", err, out)
	}
	prof, err := fabric.Load(filepath.Join(home, "connection.json"))
	if err != nil {
		return nil, err
	}
	n.Profile = prof
	return n, nil
}

// Private brings up a separate copy of the whole system (network and
// services) in a temporary data directory on its own base port, with the same
// command the quick start uses, for tests that kill nodes or restart things
// and must not disturb the shared network. It is taken down when the test
// ends (set KEEP_NETWORK=1 to keep it for a post-mortem).
func Private(t testing.TB, basePort int) *Network {
	t.Helper()
	shared := Require(t) // builds shipnet and every binary once
	// With KEEP_NETWORK the copy outlives the test, so its folder must too
	// (t.TempDir is always removed).
	parent := t.TempDir()
	if os.Getenv("KEEP_NETWORK") != "" {
		var err error
		if parent, err = os.MkdirTemp("", "shiptrace-private-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("private system kept in %s (KEEP_NETWORK)", parent)
	}
	home := filepath.Join(parent, "shiptrace")
	n := &Network{Repo: shared.Repo, Home: home, shipnet: shared.shipnet}
	if out, err := n.run("up", "--base-port", strconv.Itoa(basePort)); err != nil {
		t.Fatalf("shipnet up (private, base port %d): %v\n%s", basePort, err, out)
	}
	t.Cleanup(func() {
		if os.Getenv("KEEP_NETWORK") == "" {
			_, _ = n.run("down")
		}
	})
	prof, err := fabric.Load(filepath.Join(home, "connection.json"))
	if err != nil {
		t.Fatal(err)
	}
	n.Profile = prof
	return n
}

// Shipnet runs a shipnet command (stop, start, status, deploy...) against the
// test network and fails the test if it fails.
func (n *Network) Shipnet(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.run(args...)
	if err != nil {
		t.Fatalf("shipnet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (n *Network) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.shipnet, append(args, "--home", n.Home)...)
	cmd.Dir = n.Repo
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Gateway connects to the organisation's peer as its ordinary user (User1)
// and closes the connection when the test ends.
func (n *Network) Gateway(t testing.TB, mspID string, opts ...client.ConnectOption) *client.Gateway {
	t.Helper()
	return n.GatewayAs(t, mspID, "User1", opts...)
}

// GatewayAs connects as a named user of the organisation (e.g. "Admin").
func (n *Network) GatewayAs(t testing.TB, mspID, user string, opts ...client.ConnectOption) *client.Gateway {
	t.Helper()
	gw, conn, err := n.Profile.Connect(mspID, user, opts...)
	if err != nil {
		t.Fatalf("connect as %s/%s: %v", mspID, user, err)
	}
	t.Cleanup(func() {
		gw.Close()
		conn.Close()
	})
	return gw
}

// Contract is the shiptrace chaincode on the channel, signed by the
// organisation's user.
func (n *Network) Contract(t testing.TB, mspID string) *client.Contract {
	t.Helper()
	return n.Gateway(t, mspID).GetNetwork(n.Profile.Channel).GetContract(n.Profile.Chaincode)
}

// Layout returns the ports and paths of the running network.
func (n *Network) Layout(t testing.TB) topology.Layout {
	t.Helper()
	return n.Local(t).Layout
}

// Status reports every process of the network (up or down, channel height,
// memory), as `shipnet status` prints it.
func (n *Network) Status(t testing.TB) []localnet.ProcessStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.Local(t).Status(ctx)
}

// Local describes the running system: its layout, and where its services
// listen (GatewayURL, NotifierURL and NotifierAdminToken, NotifierHealthURL,
// StandinURL, APIKeys).
func (n *Network) Local(t testing.TB) *localnet.Network {
	t.Helper()
	st, err := (&localnet.Network{Layout: topology.Layout{Home: n.Home}}).LoadState()
	if err != nil {
		t.Fatalf("network state in %s: %v", n.Home, err)
	}
	return &localnet.Network{Layout: topology.Layout{BasePort: st.BasePort, Home: n.Home, Hosts: st.Hosts}, Repo: n.Repo,
		Cache: filepath.Join(n.Repo, ".cache"), Crypto: st.Crypto, Services: st.Services, Out: io.Discard}
}

// System describes the running system's services (gateway, notifier,
// stand-in, API keys) for the walk-through client.
func (n *Network) System(t testing.TB) *walk.System {
	t.Helper()
	sys, err := walk.FromLocal(n.Local(t))
	if err != nil {
		t.Fatalf("the running system in %s: %v", n.Home, err)
	}
	return sys
}

// Kill sends SIGKILL to one process of the system (e.g. "orderer2",
// "peer0.carrier", "notifier"), as a crash would; `Shipnet(t, "start")`
// starts it again.
func (n *Network) Kill(t testing.TB, process string) {
	t.Helper()
	if err := proc.Kill(n.Layout(t).PIDFile(process)); err != nil {
		t.Fatalf("kill %s: %v", process, err)
	}
}

// AwaitBlock waits until the peer behind network has committed block. A
// commit status comes from the submitting org's peer only, so a test that
// next asks another org's peer must wait for it. A peer may end a block
// stream that starts at the block it is committing just now (it logs "Error
// reading from channel, cause was: NOT_FOUND"), so a stream that closes
// without a block is opened again until ctx ends.
func AwaitBlock(ctx context.Context, network *client.Network, block uint64) error {
	for {
		streamCtx, cancel := context.WithCancel(ctx)
		blocks, err := network.FilteredBlockEvents(streamCtx, client.WithStartBlock(block))
		if err != nil {
			cancel()
			return fmt.Errorf("block events: %w", err)
		}
		_, ok := <-blocks
		cancel()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("block %d not reached: %w", block, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Eventually polls cond until it holds, failing the test after within: tests
// wait on what they can observe, never for a fixed time.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// UniqueID returns prefix plus a random suffix, so tests that share the
// ledger never collide, also across runs.
func UniqueID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + strings.ToUpper(hex.EncodeToString(b))
}

// RepoRoot finds the repository root from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return localnet.RepoRoot(dir)
}

// lock takes an exclusive file lock, waiting for another test process.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// PeerMessages renders the peers' messages of a fabric-gateway error, where
// the chaincode's "CODE: message" lives: "; [MSP address] message" each.
func PeerMessages(err error) string {
	var b strings.Builder
	if st, ok := status.FromError(err); ok {
		for _, d := range st.Details() {
			if ed, ok := d.(*gateway.ErrorDetail); ok {
				b.WriteString("; [" + ed.GetMspId() + " " + ed.GetAddress() + "] " + ed.GetMessage())
			}
		}
	}
	return b.String()
}

// NewShipment is the tests' creation request: green coffee from Santos to
// Hamburg, 2-8 °C, with terms; the submitting organisation becomes the
// exporter. Tests adjust the copy they get.
func NewShipment(id, buyer, carrier string, expected time.Time) shipment.NewShipment {
	return shipment.NewShipment{
		ID: id, Buyer: buyer, Carrier: carrier, BuyerRef: "PO-" + id,
		Product:            shipment.Product{GTIN: "4006381333931", Lot: "L-42", Description: "Green coffee", Quantity: 320, Unit: "bag"},
		Origin:             shipment.Place{Name: "Santos", Country: "BR"},
		Destination:        shipment.Place{Name: "Hamburg", Country: "DE"},
		ColdChain:          shipment.ColdChainPolicy{MinC: 2, MaxC: 8, MaxExcursionMinutes: 30},
		ExpectedDeliveryAt: expected.UTC(),
		Terms:              &shipment.Terms{Currency: "EUR", InvoiceAmountMinor: 1_000_000, LatePenaltyBpsPerDay: 100, LatePenaltyCapBps: 1_000, BreachRefundBps: 2_500},
	}
}
