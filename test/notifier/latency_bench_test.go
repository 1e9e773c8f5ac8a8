package notifier_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

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
	local := net.Local(b)
	keys, err := local.APIKeys()
	if err != nil {
		b.Fatal(err)
	}
	gw, standin := local.GatewayURL(), local.StandinURL()
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
		post(b, gw+"/v1/shipments", keys["exporter"], create)
		post(b, gw+"/v1/shipments/"+id+"/ship", keys["exporter"], nil)
		committed := time.Now()
		to := strings.TrimPrefix(phone, "+")
		deadline := time.Now().Add(30 * time.Second)
		for {
			if at, ok := received(b, standin, to, "shipment_shipped"); ok {
				lats = append(lats, at.Sub(committed))
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no shipped message for %s within 30 s", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	p := func(q float64) time.Duration { return lats[int(q*float64(len(lats)-1))] }
	fmt.Printf("event-to-WhatsApp on the local system (%d shipments): p50 %v, p99 %v (target p99 < 250 ms)\n",
		len(lats), p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond))
	b.ReportMetric(float64(p(0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p(0.99).Milliseconds()), "p99-ms")
}

func post(b *testing.B, url, key string, body any) {
	b.Helper()
	var buf bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&buf).Encode(body)
	}
	req, _ := http.NewRequest(http.MethodPost, url, &buf)
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		b.Fatalf("POST %s: %s: %s", url, resp.Status, msg.String())
	}
}

// received finds the stand-in's record of a template sent to a number.
func received(b *testing.B, standin, to, template string) (time.Time, bool) {
	b.Helper()
	resp, err := http.Get(standin + "/_standin/messages")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var msgs []struct {
		ReceivedAt time.Time `json:"receivedAt"`
		To         string    `json:"to"`
		Template   string    `json:"template"`
		Accepted   bool      `json:"accepted"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		b.Fatal(err)
	}
	for _, m := range msgs {
		if m.To == to && m.Template == template && m.Accepted {
			return m.ReceivedAt, true
		}
	}
	return time.Time{}, false
}
