package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/test/loadgen"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// uploads is what a readings load got back.
type uploads struct {
	mu       sync.Mutex
	lat      []time.Duration
	statuses map[int]int
	readings atomic.Int64
	firstErr string
}

func (u *uploads) add(status int, d time.Duration, n int, body []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.statuses == nil {
		u.statuses = map[int]int{}
	}
	u.statuses[status]++
	if status == http.StatusOK {
		u.lat = append(u.lat, d)
		u.readings.Add(int64(n))
	} else if u.firstErr == "" {
		u.firstErr = fmt.Sprintf("%d %.200s", status, body)
	}
}

func (u *uploads) pct(p float64) time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.lat) == 0 {
		return 0
	}
	s := slices.Clone(u.lat)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// uploader posts readings batches of one logger through the gateway.
type uploader struct {
	url    string
	hc     *http.Client
	key    string // the carrier's API key
	sensor string
	next   time.Time     // time of its next reading
	step   time.Duration // between its readings
}

func (l *uploader) post(ctx context.Context, id string, n int, celsius float64, u *uploads) {
	rs := make([]map[string]any, n)
	for i := range rs {
		rs[i] = map[string]any{"sensorId": l.sensor, "time": l.next.UTC().Format(time.RFC3339Nano), "celsius": celsius}
		l.next = l.next.Add(l.step)
	}
	l.postReadings(ctx, id, rs, u)
}

func (l *uploader) postReadings(ctx context.Context, id string, rs []map[string]any, u *uploads) {
	body, _ := json.Marshal(map[string]any{"readings": rs})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, l.url+"/v1/shipments/"+id+"/readings", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.key)
	start := time.Now()
	res, err := l.hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			u.add(0, 0, 0, []byte(err.Error()))
		}
		return
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	u.add(res.StatusCode, time.Since(start), len(rs), b)
}

// BenchmarkReadings prints, through the REST gateway on the shared test
// network (batches of 500 readings):
//
//   - eight loggers uploading to ONE shipment at once (readings/s, answers
//     by status: the target is at least 10,000 readings/s and no 503);
//   - one logger on each of 32 shipments (ingest across shipments);
//   - the latency of a late one-reading batch on a shipment holding 10,000
//     and then 1,000,000 readings, against an on-time one-reading batch on
//     the same shipment, alternating (the late one should stay flat).
//
// It measures, it does not assert. Run with
//
//	go test ./test/gateway -run '^$' -bench Readings -benchtime 1x
//
// SHIPTRACE_BENCH_SECONDS (default 20) is the time per load,
// SHIPTRACE_BENCH_FILL (default 1000000) the larger fill, and
// SHIPTRACE_BENCH_LATE_ONLY=1 skips the two loads.
func BenchmarkReadings(b *testing.B) {
	c, where := benchTarget(b)
	hc := c.HTTP
	dur := loadgen.EnvSeconds("SHIPTRACE_BENCH_SECONDS", 20*time.Second)
	fmt.Printf("\nReadings through REST on %s (%s per load, 500 readings per batch)\n", where, dur)
	newUploader := func(sensor string, start time.Time) *uploader {
		return &uploader{url: c.Base, hc: hc, key: c.Keys["carrier"], sensor: sensor, next: start, step: time.Millisecond}
	}
	inTransit := func(id string) time.Time {
		ctx := context.Background()
		req := walk.NewShipment(id, nil)
		req.ColdChain.HardMaxC = nil
		if _, err := c.Create(ctx, req, ""); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Act(ctx, "exporter", id, "ship", nil, ""); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Act(ctx, "exporter", id, "handover", map[string]string{"toMSP": "CarrierMSP"}, ""); err != nil {
			b.Fatal(err)
		}
		return time.Now().Add(time.Second).Truncate(time.Millisecond) // readings have millisecond precision
	}

	// pair registers the loggers with the shipment before they upload
	// (RegisterSensors), so their first batches do not meet on the record.
	pair := func(id string, loggers int) {
		sensors := make([]string, loggers)
		for l := range sensors {
			sensors[l] = fmt.Sprintf("L%d", l)
		}
		if _, err := c.Act(context.Background(), "carrier", id, "sensors", map[string]any{"sensors": sensors}, ""); err != nil {
			b.Fatal(err)
		}
	}
	load := func(name string, shipments, loggers int, paired bool) {
		ids := make([]string, shipments)
		var starts []time.Time
		for i := range ids {
			ids[i] = testnet.UniqueID("RB")
			starts = append(starts, inTransit(ids[i]))
			if paired {
				pair(ids[i], loggers)
			}
		}
		var u uploads
		ctx, cancel := context.WithTimeout(context.Background(), dur)
		defer cancel()
		var wg sync.WaitGroup
		begin := time.Now()
		for s, id := range ids {
			for l := range loggers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					up := newUploader(fmt.Sprintf("L%d", l), starts[s])
					for ctx.Err() == nil {
						up.post(ctx, id, 500, 5, &u)
					}
				}()
			}
		}
		wg.Wait()
		elapsed := time.Since(begin).Seconds()
		rate := float64(u.readings.Load()) / elapsed
		fmt.Printf("  %-30s %8.0f readings/s  p50 %5d ms  p99 %5d ms  answers %v\n", name, rate,
			u.pct(0.5).Milliseconds(), u.pct(0.99).Milliseconds(), u.statuses)
		if u.firstErr != "" {
			fmt.Printf("    first error: %s\n", u.firstErr)
		}
		b.ReportMetric(rate, "readings/s-"+unit(name))
	}
	if os.Getenv("SHIPTRACE_BENCH_LATE_ONLY") == "" {
		load("8 loggers, 1 shipment", 1, 8, false)
		load("8 paired loggers, 1 shipment", 1, 8, true)
		load("1 logger each, 32 shipments", 32, 1, false)
	}

	// Late readings: fill one shipment from eight loggers, then alternate a
	// late one-reading batch of logger L0 (somewhere in what it recorded)
	// with an on-time one.
	id := testnet.UniqueID("RB-LATE")
	start := inTransit(id)
	loggers := make([]*uploader, 8)
	for l := range loggers {
		loggers[l] = newUploader(fmt.Sprintf("L%d", l), start)
	}
	filled := 0
	fill := func(upTo int) {
		var u uploads
		var wg sync.WaitGroup
		began := time.Now()
		for _, up := range loggers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range (upTo - filled) / 500 / len(loggers) {
					up.post(context.Background(), id, 500, 5, &u)
				}
			}()
		}
		wg.Wait()
		filled = upTo
		fmt.Printf("  filled %s to %d readings in %.0f s (answers %v)\n", id, upTo, time.Since(began).Seconds(), u.statuses)
	}
	probe := func(label string) {
		var late, onTime uploads
		l0 := loggers[0]
		for i := range 40 {
			if i%2 == 0 {
				at := start.Add(time.Duration(rand.Int64N(int64(l0.next.Sub(start))))).Truncate(time.Millisecond)
				l0.postReadings(context.Background(), id, []map[string]any{{"sensorId": l0.sensor, "time": at.UTC().Format(time.RFC3339Nano), "celsius": 5}}, &late)
			} else {
				l0.post(context.Background(), id, 1, 5, &onTime)
			}
		}
		fmt.Printf("  one-reading batch at %9s stored: late p50 %4d ms p99 %4d ms | on time p50 %4d ms p99 %4d ms | late/on-time p50 %.2f\n", label,
			late.pct(0.5).Milliseconds(), late.pct(0.99).Milliseconds(), onTime.pct(0.5).Milliseconds(), onTime.pct(0.99).Milliseconds(),
			float64(late.pct(0.5))/float64(max(1, onTime.pct(0.5))))
		if late.firstErr != "" || onTime.firstErr != "" {
			fmt.Printf("    first errors: late %s; on time %s\n", late.firstErr, onTime.firstErr)
		}
		b.ReportMetric(float64(late.pct(0.5).Milliseconds()), "late-p50-ms-"+unit(label))
	}
	fill(10_000)
	probe("10,000")
	fill(loadgen.EnvInt("SHIPTRACE_BENCH_FILL", 1_000_000))
	probe(fmt.Sprint(filled))
}

// unit makes a label usable in a metric's unit, which may not hold spaces.
func unit(label string) string {
	return strings.NewReplacer(" ", "", ",", "").Replace(label)
}

// benchTarget is the REST gateway a benchmark loads: the running system
// from `scripts/up` when SHIPTRACE_BENCH_SYSTEM names its data directory
// (HTTPS, its API keys, the notifier on: what a member runs), else a
// gateway in this process on the shared test network, without fair-use
// limits (it measures the gateway's cost, not its policy).
func benchTarget(b *testing.B) (*walk.Client, string) {
	if home := os.Getenv("SHIPTRACE_BENCH_SYSTEM"); home != "" {
		sys, err := walk.Open(home)
		if err != nil {
			b.Fatal(err)
		}
		c := sys.Client()
		if t, ok := c.HTTP.Transport.(*http.Transport); ok {
			t.MaxIdleConnsPerHost = 64
		}
		return c, "the running system in " + home
	}
	net := testnet.Require(b)
	g := startGateway(b, net, gatewayOpts{})
	keys := map[string]string{}
	for name := range orgs {
		keys[name] = keyOf(name)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 2 * time.Minute}
	return &walk.Client{Base: g.URL, Keys: keys, HTTP: hc}, "an in-process gateway (batch timeout " + batchTimeout(net.Home) + ")"
}
