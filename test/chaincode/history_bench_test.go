package chaincode_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// BenchmarkShipmentHistoryDepth prints what a ShipmentHistory page costs at
// different depths of a shipment with thousands of versions. Fabric's
// history iterator starts at the newest version and cannot seek, and the
// peer reads each entry's transaction from the block store, handing them to
// the chaincode 100 at a time: so a page should cost its depth, not the
// total.
//
// SHIPTRACE_BENCH_HISTORY_VERSIONS sets the versions (default 3000; one
// block each, about 7 a second); SHIPTRACE_BENCH_HISTORY_ID reuses a
// shipment an earlier run built (its ID is printed).
// Run: go test -run XXX -bench ShipmentHistoryDepth -benchtime 1x -timeout 30m ./test/chaincode/
func BenchmarkShipmentHistoryDepth(b *testing.B) {
	o := connect(b)
	versions := 3000
	if n, err := strconv.Atoi(os.Getenv("SHIPTRACE_BENCH_HISTORY_VERSIONS")); err == nil && n > 3 {
		versions = n
	}
	id := os.Getenv("SHIPTRACE_BENCH_HISTORY_ID")
	if id == "" {
		id = testnet.UniqueID("HIST")
		start := time.Now()
		o.call(b, exporterMSP, "CreateShipment", newShipmentJSON(b, id))
		o.call(b, exporterMSP, "Ship", id)
		o.call(b, exporterMSP, "HandOver", id, carrierMSP)
		// One reading per batch, a millisecond apart from the hand-over on
		// (inside the carrier's custody): each batch is one more version.
		at := time.Now().UTC().Truncate(time.Millisecond)
		for v := 4; v <= versions; v++ {
			batch := []shipment.Reading{{SensorID: "logger-1", Time: at, Celsius: 5}}
			at = at.Add(time.Millisecond)
			if _, err := submitRetrying(context.Background(), o.contracts[carrierMSP], "RecordReadings", id, mustJSON(b, batch)); err != nil {
				b.Fatalf("version %d: %v", v, err)
			}
			if v%500 == 0 {
				fmt.Printf("ShipmentHistory: %s has %d versions (%.0fs)\n", id, v, time.Since(start).Seconds())
			}
		}
		fmt.Printf("ShipmentHistory: built %s with %d versions in %.0fs\n", id, versions, time.Since(start).Seconds())
	}

	// Bookmarks every 100 versions, from pages of 100.
	marks := []string{""}
	total := 0
	for bookmark := ""; ; {
		page := decode[wirePage[historyEntry]](b, o.evaluate(b, retailerMSP, "ShipmentHistory", id, "100", bookmark))
		total += len(page.Items)
		if bookmark = page.Bookmark; bookmark == "" {
			break
		}
		marks = append(marks, bookmark)
	}
	small := testnet.UniqueID("HIST-S")
	o.call(b, exporterMSP, "CreateShipment", newShipmentJSON(b, small))
	o.call(b, exporterMSP, "Ship", small)

	measure := func(id, bookmark string) (p50, p99 time.Duration) {
		var lat []time.Duration
		for range 30 {
			t0 := time.Now()
			page := decode[wirePage[historyEntry]](b, o.evaluate(b, retailerMSP, "ShipmentHistory", id, "20", bookmark))
			lat = append(lat, time.Since(t0))
			if len(page.Items) == 0 {
				b.Fatalf("empty page of %s after %q", id, bookmark)
			}
		}
		return percentiles(lat)
	}
	fmt.Printf("ShipmentHistory, pages of 20, 30 calls each, %s with %d versions:\n", id, total)
	p50, p99 := measure(small, "")
	fmt.Printf("  %-32s p50 %4d ms  p99 %4d ms\n", "2 versions, first page", p50.Milliseconds(), p99.Milliseconds())
	for _, depth := range []int{0, 500, 1000, 2000, (total - 20) / 100 * 100} {
		if depth/100 >= len(marks) {
			continue
		}
		p50, p99 := measure(id, marks[depth/100])
		fmt.Printf("  %-32s p50 %4d ms  p99 %4d ms\n", fmt.Sprintf("%d versions, depth %d", total, depth), p50.Milliseconds(), p99.Milliseconds())
	}
}
