package tracking_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/loadgen"
)

// BenchmarkTrackPage50Viewers: 50 viewers (SHIPTRACE_BENCH_VIEWERS) reload one shipment's page as
// fast as they can for SHIPTRACE_BENCH_SECONDS (default 20) against the
// running system; the shipment has its breach walk-through plus 2,000
// readings of two loggers, then the same viewers at a fixed rate
// (SHIPTRACE_BENCH_RATE, default 1,000 pages/s). It reports the time to
// first byte (the measure) and the whole page (request to last
// compressed byte); the assets are left out (a browser caches them for a
// day). Run:
// go test ./test/tracking -run XXX -bench TrackPage50Viewers -benchtime 1x
func BenchmarkTrackPage50Viewers(b *testing.B) {
	_, sys, c := system(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tr, err := sys.TrackedBreach(ctx, c, "TRKB")
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	for _, sensor := range []string{"hold-1", "hold-2"} {
		var batch []shipment.Reading
		for i := range 1000 {
			batch = append(batch, shipment.Reading{SensorID: sensor, Time: t0.Add(time.Duration(i) * 240 * time.Millisecond),
				Celsius: 4 + float64(i%40)/10})
		}
		if _, err := c.Act(ctx, "carrier", tr.ID, "readings", map[string]any{"readings": batch}, walk.NewID("bench")); err != nil {
			b.Fatal(err)
		}
	}
	url := sys.GatewayURL + "/track/" + tr.Token
	// Each viewer keeps its connection, as a phone does.
	if t, ok := c.HTTP.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = 64
	}
	var (
		mu   sync.Mutex
		ttfb []time.Duration
		size int
	)
	viewers := loadgen.EnvInt("SHIPTRACE_BENCH_VIEWERS", 50)
	view := func(ctx context.Context, _, _ int) (int, error) {
		start := time.Now()
		var first time.Duration
		trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Since(start) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url, nil)
		req.Header.Set("Accept-Language", "de")
		// Asked for explicitly, as a phone's browser does: the transport
		// then hands over the compressed bytes, which is what travels.
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
			return 0, fmt.Errorf("status %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		mu.Lock()
		ttfb, size = append(ttfb, first), int(n)
		mu.Unlock()
		return 0, err
	}
	res := loadgen.Closed(ctx, viewers, loadgen.EnvSeconds("SHIPTRACE_BENCH_SECONDS", 20*time.Second), view)
	b.ReportMetric(loadgen.Ms(loadgen.Percentile(ttfb, 0.5)), "ttfb_p50_ms")
	b.ReportMetric(loadgen.Ms(loadgen.Percentile(ttfb, 0.99)), "ttfb_p99_ms")
	b.ReportMetric(loadgen.Ms(res.Percentile(0.99)), "page_p99_ms")
	b.ReportMetric(res.Rate(), "pages/s")
	b.Logf("%d viewers: %d pages (%d errors, first %v), %.1f pages/s; time to first byte p50 %.1f ms, p99 %.1f ms; "+
		"whole page p50 %.1f ms, p99 %.1f ms; page %d B gzipped on the wire",
		viewers, res.OK(), res.Errors, res.FirstErr, res.Rate(), loadgen.Ms(loadgen.Percentile(ttfb, 0.5)),
		loadgen.Ms(loadgen.Percentile(ttfb, 0.99)), loadgen.Ms(res.Percentile(0.5)), loadgen.Ms(res.Percentile(0.99)), size)

	// The closed loop above saturates the machine (its viewers never
	// pause, and the load generator itself takes more of the two cores
	// than the gateway), so its latency is mostly queueing. The same 50
	// viewers at a fixed, still extreme rate (SHIPTRACE_BENCH_RATE pages/s
	// in all, default 1,000: each viewer reloading 20 times a second)
	// measure the page's latency below saturation.
	rate := float64(loadgen.EnvInt("SHIPTRACE_BENCH_RATE", 1000))
	mu.Lock()
	ttfb = nil
	mu.Unlock()
	pctx, pcancel := context.WithTimeout(ctx, loadgen.EnvSeconds("SHIPTRACE_BENCH_SECONDS", 20*time.Second))
	paced, missed := loadgen.Paced(pctx, rate, viewers, view)
	pcancel()
	b.ReportMetric(loadgen.Ms(loadgen.Percentile(ttfb, 0.99)), "paced_ttfb_p99_ms")
	b.Logf("%d viewers at %.0f pages/s offered: %d pages (%d errors, %d starts missed for want of a free viewer), %.1f pages/s; "+
		"time to first byte p50 %.1f ms, p99 %.1f ms; whole page p99 %.1f ms",
		viewers, rate, paced.OK(), paced.Errors, missed, paced.Rate(), loadgen.Ms(loadgen.Percentile(ttfb, 0.5)),
		loadgen.Ms(loadgen.Percentile(ttfb, 0.99)), loadgen.Ms(paced.Percentile(0.99)))
}
