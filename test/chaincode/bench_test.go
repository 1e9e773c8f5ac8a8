package chaincode_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// The benchmarks print their measurements rather than assert them: targets
// are at least 10,000 readings/s ingested and page reads under 50 ms p99.
// Run: go test -run XXX -bench . -benchtime 1x ./test/chaincode/
// SHIPTRACE_BENCH_SECONDS sets the ingest duration per batch size (default 20).

func benchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("SHIPTRACE_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 20 * time.Second
}

// prepareInTransit creates n shipments held by the carrier, in parallel.
func prepareInTransit(b *testing.B, o *orgs, prefix string, n int) []string {
	b.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = testnet.UniqueID(prefix)
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.call(b, exporterMSP, "CreateShipment", newShipmentJSON(b, ids[i]))
			o.call(b, exporterMSP, "Ship", ids[i])
			o.call(b, exporterMSP, "HandOver", ids[i], carrierMSP)
		}()
	}
	wg.Wait()
	return ids
}

// submitRetrying submits and waits for the commit, retrying when a lagging
// peer makes endorsements disagree or the commit fails an MVCC check.
func submitRetrying(ctx context.Context, c *client.Contract, fn string, args ...string) (retries int, err error) {
	for {
		_, commit, err := c.SubmitAsync(fn, client.WithArguments(args...))
		if err == nil {
			var st *client.Status
			if st, err = commit.StatusWithContext(ctx); err == nil && !st.Successful {
				err = fmt.Errorf("transaction %s: %s", st.TransactionID, st.Code)
			}
		}
		if err == nil {
			return retries, nil
		}
		if ctx.Err() != nil {
			return retries, ctx.Err()
		}
		if retries >= 20 {
			return retries, fmt.Errorf("%s after %d retries: %s", fn, retries, describe(err))
		}
		retries++
		time.Sleep(time.Duration(20+rand.IntN(60)) * time.Millisecond)
	}
}

// SHIPTRACE_BENCH_SENSORS (default 4) is the number of sensors in each
// batch: each is a summary key, with its key-level policy, that the batch
// writes.
func BenchmarkRecordReadings(b *testing.B) {
	o := connect(b)
	sensors := 4
	if n, err := strconv.Atoi(os.Getenv("SHIPTRACE_BENCH_SENSORS")); err == nil && n > 0 {
		sensors = n
	}
	for _, size := range []int{100, 500} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			const streams = 32
			ids := prepareInTransit(b, o, "BENCH", streams)
			var txs, retries, failures atomic.Int64
			ctx, cancel := context.WithTimeout(context.Background(), benchSeconds())
			defer cancel()
			start := time.Now()
			var wg sync.WaitGroup
			for _, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Readings one millisecond apart from four sensors, from the
					// moment the carrier holds the goods (a reading must fall in
					// the recorder's custody), moving forward batch by batch no
					// faster than the clock (nor beyond the transaction time).
					next := time.Now().UTC().Truncate(time.Millisecond)
					for ctx.Err() == nil {
						batch := make([]shipment.Reading, size)
						for i := range batch {
							batch[i] = shipment.Reading{SensorID: "logger-" + strconv.Itoa(i%sensors), Time: next, Celsius: 3 + float64(i%40)/10}
							next = next.Add(time.Millisecond)
						}
						r, err := submitRetrying(ctx, o.contracts[carrierMSP], "RecordReadings", id, mustJSON(b, batch))
						retries.Add(int64(r))
						if err != nil {
							if ctx.Err() == nil {
								failures.Add(1)
							}
							continue
						}
						txs.Add(1)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start).Seconds()
			txps := float64(txs.Load()) / elapsed
			b.ReportMetric(txps, "tx/s")
			b.ReportMetric(txps*float64(size), "readings/s")
			fmt.Printf("RecordReadings batch=%d, %d sensors each: %d committed tx in %.1fs over %d shipments = %.1f tx/s, %.0f readings/s (retries %d, failures %d)\n",
				size, sensors, txs.Load(), elapsed, streams, txps, txps*float64(size), retries.Load(), failures.Load())
		})
	}
}

// BenchmarkCreateShipment measures committed creates per second with 48 in
// flight: the write every shipment starts with, and the one whose
// endorsement the trust checks (member registry read, clock check,
// key-level policy) add to.
func BenchmarkCreateShipment(b *testing.B) {
	o := connect(b)
	const inFlight = 48
	var txs, retries, failures atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), benchSeconds())
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				r, err := submitRetrying(ctx, o.contracts[exporterMSP], "CreateShipment", newShipmentJSON(b, testnet.UniqueID("BENCH-C")))
				retries.Add(int64(r))
				switch {
				case err == nil:
					txs.Add(1)
				case ctx.Err() == nil:
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	txps := float64(txs.Load()) / elapsed
	b.ReportMetric(txps, "tx/s")
	fmt.Printf("CreateShipment: %d committed in %.1fs with %d in flight = %.1f tx/s (retries %d, failures %d)\n",
		txs.Load(), elapsed, inFlight, txps, retries.Load(), failures.Load())
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return d[len(d)*50/100], d[min(len(d)-1, len(d)*99/100)]
}

func BenchmarkListShipments(b *testing.B) {
	o := connect(b)
	const target = 10_000
	// Count what the shared ledger holds and remember bookmarks at every depth.
	count := func() (int, []string) {
		n, bookmark, marks := 0, "", []string{""}
		for {
			page := decode[wirePage[shipment.Shipment]](b, o.evaluate(b, retailerMSP, "ListShipments", "", "200", bookmark))
			n += len(page.Items)
			if bookmark = page.Bookmark; bookmark == "" {
				return n, marks
			}
			marks = append(marks, bookmark)
		}
	}
	have, _ := count()
	if missing := target - have; missing > 0 {
		fmt.Printf("ListShipments: creating %d shipments to reach %d\n", missing, target)
		start := time.Now()
		work := make(chan int)
		var wg sync.WaitGroup
		for range 48 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					id := testnet.UniqueID("FILL")
					if _, err := submitRetrying(context.Background(), o.contracts[exporterMSP], "CreateShipment", newShipmentJSON(b, id)); err != nil {
						b.Errorf("create %s: %v", id, err)
					}
				}
			}()
		}
		for i := range missing {
			work <- i
		}
		close(work)
		wg.Wait()
		fmt.Printf("ListShipments: created %d shipments in %.1fs (%.0f tx/s)\n", missing, time.Since(start).Seconds(), float64(missing)/time.Since(start).Seconds())
	}
	have, marks := count()
	for _, q := range []struct{ name, filter, size string }{
		{"all/50", "", "50"},
		{"all/200", "", "200"},
		{"buyer/50", `{"buyer":"RetailerMSP"}`, "50"},
		{"status+exporter/50", `{"status":"CREATED","exporter":"ExporterMSP"}`, "50"},
	} {
		var lat []time.Duration
		for i := range 200 {
			bookmark := ""
			if q.filter == "" {
				bookmark = marks[i%len(marks)]
			}
			t0 := time.Now()
			o.evaluate(b, retailerMSP, "ListShipments", q.filter, q.size, bookmark)
			lat = append(lat, time.Since(t0))
		}
		p50, p99 := percentiles(lat)
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms-"+q.name)
		fmt.Printf("ListShipments %-20s with %d shipments: p50 %v, p99 %v\n", q.name, have, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond))
	}
}

func BenchmarkReadings(b *testing.B) {
	o := connect(b)
	id := prepareInTransit(b, o, "BENCHRD", 1)[0]
	// 10,000 readings 30 ms apart from the hand-over on: readings must fall
	// inside the carrier's custody and no later than the transaction time
	// plus 5 minutes, so a benchmark cannot spread them over days.
	const spacing = 30 * time.Millisecond
	start := time.Now().UTC().Truncate(time.Millisecond)
	for batch := range 20 {
		rs := make([]shipment.Reading, 500)
		for i := range rs {
			rs[i] = shipment.Reading{SensorID: "logger-" + strconv.Itoa(i%4), Time: start.Add(time.Duration(batch*500+i) * spacing), Celsius: 5}
		}
		if _, err := submitRetrying(context.Background(), o.contracts[carrierMSP], "RecordReadings", id, mustJSON(b, rs)); err != nil {
			b.Fatal(err)
		}
	}
	for _, size := range []int{100, 500, 1000} {
		var lat []time.Duration
		for i := range 200 {
			from := start.Add(time.Duration(rand.IntN(9_000)) * spacing).Format(time.RFC3339Nano)
			t0 := time.Now()
			page := decode[wirePage[shipment.Reading]](b, o.evaluate(b, retailerMSP, "Readings", id, from, "", strconv.Itoa(size), ""))
			lat = append(lat, time.Since(t0))
			if len(page.Items) == 0 {
				b.Fatalf("empty page %d", i)
			}
		}
		p50, p99 := percentiles(lat)
		b.ReportMetric(float64(p99.Microseconds())/1000, fmt.Sprintf("p99-ms-page%d", size))
		fmt.Printf("Readings page=%-4d with 10,000 readings: p50 %v, p99 %v\n", size, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond))
	}
}
