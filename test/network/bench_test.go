package network_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// BenchmarkNetworkUp brings a second, private network up in a temporary data
// directory (base port 27000, so it never touches the shared test network),
// with the binaries already cached, and reports the seconds from the start of
// `up` to "chaincode committed", with cryptogen and with a Fabric CA per org.
// On the CA network it then runs a write load and reports the peak resident
// memory of every process. Run it once:
//
//	go test ./test/network -run '^$' -bench NetworkUp -benchtime 1x
func BenchmarkNetworkUp(b *testing.B) {
	var cryptogen float64
	b.Run("crypto=cryptogen", func(b *testing.B) { cryptogen = benchUp(b, "cryptogen", false) })
	b.Run("crypto=ca", func(b *testing.B) {
		ca := benchUp(b, "ca", true)
		fmt.Printf("Fabric CAs add %.1f s to up (target <= 10 s)\n", ca-cryptogen)
	})
}

func benchUp(b *testing.B, crypto string, load bool) float64 {
	repo, err := testnet.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	shipnet := buildShipnet(b, repo)
	home := b.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command(shipnet, append(args, "--home", home, "--base-port", "27000", "--crypto", crypto)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("shipnet %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("build")
	// The figures up prints itself: from the binaries being ready (crypto
	// material and CAs included) to "chaincode committed", and to every
	// org's endorsers being discoverable (gossip converged).
	var committed, ready float64
	for i := 0; i < b.N; i++ {
		out := run("up")
		c, r := upFigures(b, out)
		committed += c
		ready += r
		if i < b.N-1 {
			run("down")
		}
	}
	defer run("down")
	upSeconds, readySeconds := committed/float64(b.N), ready/float64(b.N)
	b.ReportMetric(upSeconds, "s/up")
	b.ReportMetric(readySeconds, "s/ready")
	fmt.Printf("network up with %s crypto (cached binaries): chaincode committed after %.1f s (target <= 10 s), every org's endorsers discoverable after %.1f s\n",
		crypto, upSeconds, readySeconds)
	if !load {
		return upSeconds
	}

	prof, err := fabric.Load(filepath.Join(home, "connection.json"))
	if err != nil {
		b.Fatal(err)
	}
	tps, p50, p99 := writeLoad(b, prof, 64, 20*time.Second)
	fmt.Printf("write load: CreateShipment at concurrency 64 over 3 orgs: %.0f committed tx/s, p50 %v, p99 %v\n", tps, p50, p99)
	b.ReportMetric(tps, "tx/s")

	ln := &localnet.Network{Layout: topology.Layout{BasePort: 27000, Home: home}, Repo: repo,
		Cache: filepath.Join(repo, ".cache"), Out: os.Stdout}
	st := ln.Status(context.Background())
	var sum, cas int64
	fmt.Println("peak RSS after the load:")
	for _, s := range st {
		if s.Kind == "ca" {
			cas += s.PeakRSS
		} else {
			sum += s.PeakRSS
		}
		fmt.Printf("  %-20s %6.0f MiB\n", s.Name, float64(s.PeakRSS)/(1<<20))
	}
	fmt.Printf("  %-20s %6.0f MiB (target <= 600 MiB)\n", "orderers, peers, chaincode", float64(sum)/(1<<20))
	fmt.Printf("  %-20s %6.0f MiB (idle under a transaction load)\n", "the 4 Fabric CAs", float64(cas)/(1<<20))
	b.ReportMetric(float64(sum)/(1<<20), "MiB-peak-RSS")
	return upSeconds
}

// buildShipnet builds the shipnet command from this checkout, so a
// benchmark's private network runs this commit's local tooling.
func buildShipnet(b *testing.B, repo string) string {
	b.Helper()
	shipnet := filepath.Join(repo, ".cache", "bin", "shipnet")
	build := exec.Command("go", "build", "-o", shipnet, "./local/cmd/shipnet")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build shipnet: %v\n%s", err, out)
	}
	return shipnet
}

var upLine = regexp.MustCompile(`chaincode committed ([0-9.]+)s after the binaries were ready; every org's endorsers discoverable after ([0-9.]+)s`)

func upFigures(b *testing.B, out string) (committed, ready float64) {
	b.Helper()
	m := upLine.FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("up printed no timing line:\n%s", out)
	}
	committed, _ = strconv.ParseFloat(m[1], 64)
	ready, _ = strconv.ParseFloat(m[2], 64)
	return committed, ready
}

// writeLoad submits CreateShipment as the exporter (only exporters create)
// from `workers` goroutines for d, and returns committed tx/s and latency
// percentiles.
func writeLoad(b *testing.B, prof *fabric.Profile, workers int, d time.Duration) (float64, time.Duration, time.Duration) {
	gw, conn, err := prof.Connect("ExporterMSP", "User1")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	defer gw.Close()
	contract := gw.GetNetwork(prof.Channel).GetContract(prof.Chaincode)
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs atomic.Int64
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	prefix := testnet.UniqueID("LOAD")
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				s := newShipment(fmt.Sprintf("%s-%d-%d", prefix, w, i))
				arg, _ := json.Marshal(s)
				t0 := time.Now()
				_, commit, err := contract.SubmitAsync("CreateShipment", client.WithArguments(string(arg)))
				if err == nil {
					var st *client.Status
					st, err = commit.Status()
					if err == nil && !st.Successful {
						err = fmt.Errorf("invalid: %s", st.Code)
					}
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				mu.Lock()
				lats = append(lats, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lats) == 0 {
		b.Fatalf("no transaction committed (%d errors)", errs.Load())
	}
	if n := errs.Load(); n > 0 {
		fmt.Printf("  %d transactions failed during the load\n", n)
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) time.Duration { return lats[int(p*float64(len(lats)-1))].Round(time.Millisecond) }
	return float64(len(lats)) / elapsed.Seconds(), pct(0.50), pct(0.99)
}
