package contract

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// BenchmarkReadingsPage reads one page from the middle of 10,000 readings
// stored in batches of 500, the cost the peer pays per Readings call.
func BenchmarkReadingsPage(b *testing.B) {
	w := newWorld(b)
	id := "SHP-BENCH-1"
	w.inTransit(id)
	for batch := range 20 {
		rs := make([]shipment.Reading, 500)
		for i := range rs {
			rs[i] = shipment.Reading{SensorID: fmt.Sprintf("S%d", i%4), Time: rbase.Add(time.Duration(batch*500+i) * 10 * time.Second), Celsius: 5}
		}
		w.ok(carrierMSP, "RecordReadings", id, readingsJSON(b, rs))
	}
	from := rbase.Add(5000 * 10 * time.Second).Format(time.RFC3339)
	b.ResetTimer()
	for range b.N {
		res := w.invoke(call{msp: buyerMSP, fn: "Readings", args: []string{id, from, "", "500", ""}})
		var p ReadingPage
		if err := json.Unmarshal(res.Response.GetPayload(), &p); err != nil || len(p.Items) != 500 {
			b.Fatalf("page: %v, %d items", err, len(p.Items))
		}
	}
}

// BenchmarkRecordReadings500 is the chaincode's own cost of one batch.
func BenchmarkRecordReadings500(b *testing.B) {
	w := newWorld(b)
	id := "SHP-BENCH-2"
	w.inTransit(id)
	b.ResetTimer()
	for n := range b.N {
		rs := make([]shipment.Reading, 500)
		for i := range rs {
			rs[i] = shipment.Reading{SensorID: fmt.Sprintf("S%d", i%4), Time: rbase.Add(time.Duration(n*500+i) * time.Second), Celsius: 5}
		}
		w.ok(carrierMSP, "RecordReadings", id, readingsJSON(b, rs))
	}
}
