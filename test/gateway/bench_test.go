package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/test/testnet"
)

// BenchmarkWritesRESTvsDirect prints committed writes per second and p50/p99
// latency of CreateShipment through the REST gateway (synchronous: answered
// after commit) and sent directly with the fabric-gateway client, at each
// concurrency, and their ratio. It measures, it does not assert. Run with
//
//	go test ./test/gateway -run XXX -bench WritesRESTvsDirect -benchtime 1x
//
// SHIPTRACE_BENCH_SECONDS (default 8) sets the time per point and
// SHIPTRACE_BENCH_CONCURRENCY (default 1,16,64,256) the levels.
func BenchmarkWritesRESTvsDirect(b *testing.B) {
	net := testnet.Require(b)
	g := startGateway(b, net, gatewayOpts{})
	contract := net.Contract(b, "ExporterMSP")
	dur := time.Duration(envInt("SHIPTRACE_BENCH_SECONDS", 8)) * time.Second
	levels := []int{1, 16, 64, 256}
	if v := os.Getenv("SHIPTRACE_BENCH_CONCURRENCY"); v != "" {
		levels = nil
		for _, f := range strings.Split(v, ",") {
			n, _ := strconv.Atoi(f)
			levels = append(levels, n)
		}
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}, Timeout: 2 * time.Minute}
	rest := func(ctx context.Context, id string) error {
		body, _ := json.Marshal(newShipment(id))
		req, _ := http.NewRequestWithContext(ctx, "POST", g.URL+"/v1/shipments", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keyOf("exporter"))
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		if res.StatusCode != 201 {
			return fmt.Errorf("status %d: %.200s", res.StatusCode, buf.String())
		}
		return nil
	}
	direct := func(ctx context.Context, id string) error {
		arg, _ := json.Marshal(newShipment(id))
		_, commit, err := contract.SubmitAsyncWithContext(ctx, "CreateShipment", client.WithArguments(string(arg)))
		if err != nil {
			return err
		}
		st, err := commit.StatusWithContext(ctx)
		if err != nil {
			return err
		}
		if !st.Successful {
			return fmt.Errorf("commit %s", st.Code)
		}
		return nil
	}
	fmt.Printf("\nCreateShipment, committed writes (batch timeout %s, endorsement policy as deployed; %s per point)\n", batchTimeout(net), dur)
	fmt.Printf("%5s | %9s %8s %8s %5s | %9s %8s %8s %5s | %6s\n", "conc", "REST tx/s", "p50 ms", "p99 ms", "err", "dir tx/s", "p50 ms", "p99 ms", "err", "ratio")
	for _, c := range levels {
		r := load(c, dur, rest)
		d := load(c, dur, direct)
		ratio := 0.0
		if d.rate > 0 {
			ratio = r.rate / d.rate
		}
		fmt.Printf("%5d | %9.1f %8.0f %8.0f %5d | %9.1f %8.0f %8.0f %5d | %6.2f\n", c, r.rate, r.p50, r.p99, r.errs, d.rate, d.p50, d.p99, d.errs, ratio)
		b.ReportMetric(r.rate, fmt.Sprintf("rest-tx/s-c%d", c))
		b.ReportMetric(r.p50, fmt.Sprintf("rest-p50-ms-c%d", c))
		b.ReportMetric(r.p99, fmt.Sprintf("rest-p99-ms-c%d", c))
		b.ReportMetric(d.rate, fmt.Sprintf("direct-tx/s-c%d", c))
		b.ReportMetric(ratio, fmt.Sprintf("ratio-c%d", c))
		if r.firstErr != nil || d.firstErr != nil {
			fmt.Printf("      first errors: REST %v; direct %v\n", r.firstErr, d.firstErr)
		}
	}
}

type result struct {
	rate, p50, p99 float64
	errs           int
	firstErr       error
}

// load runs conc workers for dur, each writing a fresh shipment in a loop,
// and counts the writes that committed.
func load(conc int, dur time.Duration, write func(context.Context, string) error) result {
	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Minute)
	defer cancel()
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     atomic.Int64
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(dur)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				t0 := time.Now()
				if err := write(ctx, testnet.UniqueID("BENCH")); err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					continue
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	return result{rate: float64(len(lat)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99), errs: int(errs.Load()), firstErr: firstErr}
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}

// batchTimeout reads the orderer batch timeout the network was created with.
func batchTimeout(net *testnet.Network) string {
	b, err := os.ReadFile(filepath.Join(net.Home, "configtx.yaml"))
	if err != nil {
		return "unknown"
	}
	if m := regexp.MustCompile(`BatchTimeout:\s*(\S+)`).FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return "unknown"
}

var _ = testing.Benchmark
