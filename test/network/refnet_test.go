package network_test

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/test/loadgen"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// refNetwork is a private network (no services) with the reference
// chaincode (refcc, a bare one-key Put) deployed beside shiptrace: the
// reference the benchmarks measure shiptrace's writes against.
type refNetwork struct {
	ln   *localnet.Network
	prof *fabric.Profile
}

// upWithReference brings a refNetwork up on SHIPTRACE_BENCH_BASE_PORT
// (default port) in a temporary directory, with pprof on its nodes when
// profile is set, and takes it down when the benchmark ends.
func upWithReference(b *testing.B, port int, profile bool) refNetwork {
	b.Helper()
	repo, err := testnet.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	port = loadgen.EnvInt("SHIPTRACE_BENCH_BASE_PORT", port)
	home := filepath.Join(b.TempDir(), "shiptrace")
	shipnet := buildShipnet(b, repo)
	run := func(args ...string) {
		cmd := exec.Command(shipnet, append(args, "--home", home, "--base-port", strconv.Itoa(port))...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("shipnet %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	up := []string{"up", "--services=false"}
	if profile {
		up = append(up, "--pprof")
	}
	run(up...)
	b.Cleanup(func() { run("down") })
	ln := &localnet.Network{Layout: topology.Layout{BasePort: port, Home: home}, Repo: repo,
		Cache: filepath.Join(repo, ".cache"), Crypto: localnet.CryptoCA, Profile: profile, Out: io.Discard}
	if err := ln.DeployExtra(context.Background(), localnet.ExtraChaincode{Name: refChaincode, ModuleDir: filepath.Join(repo, "test", "refcc"), MainPkg: "."}); err != nil {
		b.Fatal(err)
	}
	prof, err := fabric.Load(filepath.Join(home, "connection.json"))
	if err != nil {
		b.Fatal(err)
	}
	return refNetwork{ln: ln, prof: prof}
}

// contract connects as the organisation's User1 to chaincode cc; the
// connection closes when the benchmark ends.
func (n refNetwork) contract(b *testing.B, msp, cc string) *client.Contract {
	b.Helper()
	gw, conn, err := n.prof.Connect(msp, "User1")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gw.Close(); conn.Close() })
	return gw.GetNetwork(n.prof.Channel).GetContract(cc)
}
