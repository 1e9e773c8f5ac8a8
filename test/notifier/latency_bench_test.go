package notifier_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// BenchmarkEventToWhatsApp measures, on the running system started by
// `scripts/up` (gateway, notifier and stand-in as deployed), the time from a
// committed Ship transaction to the stand-in receiving the "shipped" template
// request. The start is the moment the gateway answers the Ship call, which
// it does once the exporter's peer has committed the block: the notifier
// reads its events from that same peer. Each shipment has its own buyer
// number, so neither the per-recipient pacing nor the daily cap applies and
// the rate limit does not bind (shipments go one at a time).
//
//	go test ./test/notifier -run '^$' -bench EventToWhatsApp -benchtime 20x
func BenchmarkEventToWhatsApp(b *testing.B) {
	net := testnet.Require(b)
	sys, err := walk.FromLocal(net.Local(b))
	if err != nil {
		b.Fatal(err)
	}
	c := sys.Client()
	ctx := context.Background()
	var lats []time.Duration
	for i := 0; i < b.N; i++ {
		id := testnet.UniqueID("LAT")
		phone := fmt.Sprintf("+4917%09d", time.Now().UnixNano()%1_000_000_000)
		create := map[string]any{
			"id": id, "buyer": "RetailerMSP", "carrier": "CarrierMSP", "buyerRef": "PO-" + id,
			"product":            map[string]any{"sku": "COF-GRN-60", "lot": "L-1", "description": "Green coffee", "quantity": 60, "unit": "bag"},
			"origin":             map[string]any{"name": "Santos", "country": "BR"},
			"destination":        map[string]any{"name": "Hamburg", "country": "DE"},
			"coldChain":          map[string]any{"minC": 2, "maxC": 8, "maxExcursionMinutes": 30},
			"expectedDeliveryAt": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
			"buyerContact":       map[string]any{"phone": phone, "name": "Bench", "language": "en", "consent": true},
		}
		if _, err := c.Expect(ctx, http.StatusCreated, "exporter", http.MethodPost, "/v1/shipments", create, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Expect(ctx, http.StatusOK, "exporter", http.MethodPost, "/v1/shipments/"+id+"/ship", nil, nil); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		to := walk.Digits(phone)
		var at time.Time
		testnet.Eventually(b, 30*time.Second, "the shipped message for "+id, func() bool {
			msgs, err := walk.Messages(ctx, sys.StandinURL)
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range msgs {
				if m.To == to && m.Template == "shipment_shipped" && m.Accepted {
					at = m.ReceivedAt
					return true
				}
			}
			return false
		})
		lats = append(lats, at.Sub(committed))
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	p := func(q float64) time.Duration { return lats[int(q*float64(len(lats)-1))] }
	fmt.Printf("event-to-WhatsApp on the local system (%d shipments): p50 %v, p99 %v (target p99 < 250 ms)\n",
		len(lats), p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond))
	b.ReportMetric(float64(p(0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p(0.99).Milliseconds()), "p99-ms")
}
