package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/test/loadgen"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// The REST-against-direct benchmarks print committed CreateShipment writes
// per second and p50/p99 latency through the REST gateway (synchronous:
// answered after commit) and straight to Fabric, at each concurrency, and
// their ratio. The comparison is made fair three ways:
//
//   - Order: at every level the two paths run in short slices, ABBA (REST,
//     direct, direct, REST, ...), so both see the same ledger size and the
//     same background load, and neither always goes first.
//   - Retries: "direct" is the gateway's own Fabric adapter (fabric.Client,
//     same options: MVCC conflicts and endorsers a block behind retried 3
//     times inside), and both paths get the same outer policy
//     (loadgen.DefaultPolicy) for what the system calls retryable: REST 429
//     and 503 or no answer; direct a *fabric.Error marked Retryable.
//   - Limits: the in-process gateway runs with every fair-use limit off
//     (limits.rate, in_flight, submissions, queue), since the benchmark
//     measures the gateway's overhead, not its policy. A running system keeps
//     the limits it was started with; the system benchmark prints how many
//     requests they refused.
//
// Settings: SHIPTRACE_BENCH_SECONDS (default 16) is each path's time per
// level, split into SHIPTRACE_BENCH_ROUNDS (default 4) slices;
// SHIPTRACE_BENCH_CONCURRENCY (default 1,16,64,256) the levels.

// BenchmarkWritesRESTvsDirect runs an in-process gateway (no limits) on the
// shared test network:
//
//	go test ./test/gateway -run '^$' -bench 'WritesRESTvsDirect$' -benchtime 1x
func BenchmarkWritesRESTvsDirect(b *testing.B) {
	net := testnet.Require(b)
	g := startGateway(b, net, gatewayOpts{limits: api.Limits{}})
	direct, err := fabric.Open(members(b, net.Profile, nil), clientOptions(net, nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}, Timeout: 2 * time.Minute}
	paths := [2]writePath{
		restPath(hc, g.URL, "Authorization", "Bearer "+keyOf("exporter")),
		directPath(direct, "exporter"),
	}
	fmt.Printf("\nCreateShipment, committed writes, in-process gateway without fair-use limits (batch timeout %s, endorsement policy as deployed)\n", batchTimeout(net.Home))
	compareWrites(b, paths)
}

// BenchmarkWritesRESTvsDirectSystem runs the same comparison against the
// running system of `scripts/up` (SHIPTRACE_HOME): its gateway process over
// HTTPS with the CA file, with the notifier and the rest of the services
// on, against the gateway's Fabric adapter in this process signing as the
// same identity (the exporter's User1). Start the system with
// SHIPTRACE_GATEWAY_LIMITS_RATE=0 SHIPTRACE_GATEWAY_LIMITS_IN_FLIGHT=0
// SHIPTRACE_GATEWAY_LIMITS_SUBMISSIONS=0 SHIPTRACE_GATEWAY_LIMITS_QUEUE=0
// (scripts/bench does) to measure its overhead rather than its limits.
//
//	go test ./test/gateway -run '^$' -bench 'WritesRESTvsDirectSystem' -benchtime 1x
func BenchmarkWritesRESTvsDirectSystem(b *testing.B) {
	net := testnet.Require(b)
	sys, err := walk.FromLocal(net.Local(b))
	if err != nil {
		b.Fatal(err)
	}
	hc, err := systemHTTP(sys.GatewayCA)
	if err != nil {
		b.Fatal(err)
	}
	direct, err := fabric.Open(members(b, net.Profile, nil), fabric.Options{Channel: net.Profile.Channel, Chaincode: net.Profile.Chaincode})
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	metrics := func() map[string]float64 {
		m, err := limitedCounts(hc, sys.GatewayURL, sys.Keys["exporter"])
		if err != nil {
			b.Logf("gateway metrics: %v", err)
		}
		return m
	}
	before := metrics()
	paths := [2]writePath{
		restPath(hc, sys.GatewayURL, "X-API-Key", sys.Keys["exporter"]),
		directPath(direct, "exporter"),
	}
	fmt.Printf("\nCreateShipment, committed writes, running system in %s (%s, notifier on; batch timeout %s)\n",
		sys.Home, sys.GatewayURL, batchTimeout(sys.Home))
	compareWrites(b, paths)
	after := metrics()
	var refused []string
	for _, reason := range []string{"rate", "in_flight", "queue_full", "queue_timeout"} {
		if n := after[reason] - before[reason]; n > 0 {
			refused = append(refused, fmt.Sprintf("%s %.0f", reason, n))
		}
	}
	if len(refused) == 0 {
		fmt.Println("the gateway's fair-use limits refused nothing during the run")
	} else {
		fmt.Printf("the gateway's fair-use limits refused requests (%s): REST figures above include those waits; start the system with the limits off to measure overhead\n", strings.Join(refused, ", "))
	}
}

// writePath commits one CreateShipment of a fresh shipment, once (the
// caller applies the retry policy).
type writePath struct {
	name string
	try  func(ctx context.Context, id string) error
}

// restPath posts to the gateway. 429 and 503 say nothing was done or that
// a retry is safe (Retry-After); no answer at all is retried the same way.
func restPath(hc *http.Client, base, header, value string) writePath {
	return writePath{name: "REST", try: func(ctx context.Context, id string) error {
		body, err := json.Marshal(newShipment(id))
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/shipments", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(header, value)
		res, err := hc.Do(req)
		if err != nil {
			return loadgen.Retryable(fmt.Errorf("POST /v1/shipments: %w", err))
		}
		defer res.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		switch res.StatusCode {
		case http.StatusCreated:
			return nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			return loadgen.Retryable(fmt.Errorf("status %d: %.200s", res.StatusCode, answer))
		}
		return fmt.Errorf("status %d: %.200s", res.StatusCode, answer)
	}}
}

// directPath submits through the Fabric adapter as identity and waits for
// the commit; the adapter says which failures are retryable.
func directPath(c *fabric.Client, identity string) writePath {
	return writePath{name: "direct", try: func(ctx context.Context, id string) error {
		arg, err := json.Marshal(newShipment(id))
		if err != nil {
			return err
		}
		_, err = c.Submit(ctx, fabric.Request{Identity: identity, Tx: "CreateShipment", Args: []string{string(arg)}})
		var fe *fabric.Error
		if errors.As(err, &fe) && fe.Retryable {
			return loadgen.Retryable(err)
		}
		return err
	}}
}

// compareWrites runs both paths at every level in ABBA slices and prints
// one row per level.
func compareWrites(b *testing.B, paths [2]writePath) {
	b.Helper()
	perPath := loadgen.EnvSeconds("SHIPTRACE_BENCH_SECONDS", 16*time.Second)
	rounds := loadgen.EnvInt("SHIPTRACE_BENCH_ROUNDS", 4)
	levels, err := loadgen.EnvInts("SHIPTRACE_BENCH_CONCURRENCY", []int{1, 16, 64, 256})
	if err != nil {
		b.Fatal(err)
	}
	slice := perPath / time.Duration(rounds)
	ctx := context.Background()
	prefix := testnet.UniqueID("BENCH")
	run := func(p writePath, conc int, d time.Duration, tag string) loadgen.Result {
		return loadgen.Closed(ctx, conc, d, func(ctx context.Context, worker, seq int) (int, error) {
			id := fmt.Sprintf("%s-%s%d-%d-%d", prefix, tag, conc, worker, seq)
			return loadgen.DefaultPolicy.Do(ctx, func(ctx context.Context) error { return p.try(ctx, id) })
		})
	}
	// Connections, TLS sessions and the peers' caches warm up before anything counts.
	for i, p := range paths {
		run(p, 4, time.Second, "W"+strconv.Itoa(i))
	}
	fmt.Printf("%d rounds of %s per path and level, ABBA; same retry policy (%d attempts) both ways\n", rounds, slice, loadgen.DefaultPolicy.Attempts)
	fmt.Printf("%5s | %9s %7s %7s %4s %5s | %9s %7s %7s %4s %5s | %5s %9s\n", "conc",
		"REST tx/s", "p50 ms", "p99 ms", "err", "retry", "dir tx/s", "p50 ms", "p99 ms", "err", "retry", "ratio", "per round")
	for _, c := range levels {
		var sides [2]loadgen.Result
		var last [2]float64
		var ratios []float64
		loadgen.ABBA(rounds, func(side, round int) {
			r := run(paths[side], c, slice, fmt.Sprintf("%c%d", "RD"[side], round))
			sides[side].Add(r)
			last[side] = r.Rate()
			if side == 1 && round%2 == 0 || side == 0 && round%2 == 1 { // the round's second slice
				if last[1] > 0 {
					ratios = append(ratios, last[0]/last[1])
				}
			}
		})
		r, d := sides[0], sides[1]
		ratio := 0.0
		if d.Rate() > 0 {
			ratio = r.Rate() / d.Rate()
		}
		fmt.Printf("%5d | %9.1f %7.0f %7.0f %4d %5d | %9.1f %7.0f %7.0f %4d %5d | %5.2f %9s\n", c,
			r.Rate(), loadgen.Ms(r.Percentile(.5)), loadgen.Ms(r.Percentile(.99)), r.Errors, r.Retries,
			d.Rate(), loadgen.Ms(d.Percentile(.5)), loadgen.Ms(d.Percentile(.99)), d.Errors, d.Retries,
			ratio, loadgen.Spread(ratios))
		b.ReportMetric(r.Rate(), fmt.Sprintf("rest-tx/s-c%d", c))
		b.ReportMetric(loadgen.Ms(r.Percentile(.5)), fmt.Sprintf("rest-p50-ms-c%d", c))
		b.ReportMetric(loadgen.Ms(r.Percentile(.99)), fmt.Sprintf("rest-p99-ms-c%d", c))
		b.ReportMetric(d.Rate(), fmt.Sprintf("direct-tx/s-c%d", c))
		b.ReportMetric(ratio, fmt.Sprintf("ratio-c%d", c))
		if r.FirstErr != nil || d.FirstErr != nil {
			fmt.Printf("      first errors: REST %v; direct %v\n", r.FirstErr, d.FirstErr)
		}
	}
}

// systemHTTP trusts the running gateway's CA; one connection pool large
// enough for the highest level.
func systemHTTP(caFile string) (*http.Client, error) {
	t := &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512, ForceAttemptHTTP2: true}
	if caFile != "" {
		pemBytes, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("gateway CA: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("gateway CA %s: no certificate", caFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}, nil
}

// limitedCounts reads the gateway's shiptrace_gateway_http_limited_total
// by reason from its /metrics (behind an API key).
func limitedCounts(hc *http.Client, base, key string) (map[string]float64, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-API-Key", key)
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	line := regexp.MustCompile(`^shiptrace_gateway_http_limited_total\{reason="([a-z_]+)"\} ([0-9.e+]+)$`)
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]], _ = strconv.ParseFloat(m[2], 64)
		}
	}
	return out, sc.Err()
}

// batchTimeout reads the orderer batch timeout the network was created with.
func batchTimeout(home string) string {
	b, err := os.ReadFile(filepath.Join(home, "configtx.yaml"))
	if err != nil {
		return "unknown"
	}
	if m := regexp.MustCompile(`BatchTimeout:\s*(\S+)`).FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return "unknown"
}
