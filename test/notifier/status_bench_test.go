package notifier_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/loadgen"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// BenchmarkStatusReply measures status on request on the running system
// (`shipnet up`): from the moment the stand-in is asked to POST the
// buyer's "status" webhook to the notifier, to the stand-in's receipt of
// the notifier's reply (both times on this machine's clock). Each reply
// reads the shipment (ReadShipment) from the exporter's peer as the
// notifier's identity. SHIPTRACE_BENCH_STATUS_SAMPLES sets the number of
// requests (default 200), one after another. It prints; it asserts
// nothing beyond the replies arriving.
func BenchmarkStatusReply(b *testing.B) {
	net := testnet.Require(b)
	sys := net.System(b)
	samples := loadgen.EnvInt("SHIPTRACE_BENCH_STATUS_SAMPLES", 200)
	phone := fmt.Sprintf("+491577%07d", randN(b, 10_000_000))
	id := testnet.UniqueID("BENCH-STATUS")
	createShipment(b, sys, id, shipment.Contact{Phone: phone, Name: "Bench Buyer", Language: "en", Consent: true})
	buyer := &chat{t: b, sys: sys, phone: phone, digits: walk.Digits(phone)}
	ctx := b.Context()
	buyer.say(ctx, wastandin.Inbound{Text: "status"}) // warm: connections, the member registry

	lats := make([]time.Duration, 0, samples)
	b.ResetTimer()
	for range samples {
		last := 0
		for _, r := range buyer.records(ctx) {
			last = max(last, r.Seq)
		}
		sent := time.Now()
		buyer.post(ctx, wastandin.Inbound{Text: "status"})
		r := buyer.next(ctx, last)
		if !strings.Contains(r.Text, "PO-"+id) {
			b.Fatalf("reply %q is not the status", r.Text)
		}
		lats = append(lats, r.ReceivedAt.Sub(sent))
	}
	b.StopTimer()
	p := func(q float64) string { return loadgen.Percentile(lats, q).Round(100 * time.Microsecond).String() }
	fmt.Printf("\nstatus on request on the running system: inbound webhook POST → stand-in receipt of the reply\n")
	fmt.Printf("%d sequential requests: p50 %s, p90 %s, p99 %s, max %s\n", len(lats), p(.5), p(.9), p(.99), p(1))
	b.ReportMetric(loadgen.Ms(loadgen.Percentile(lats, .5)), "p50-ms")
	b.ReportMetric(loadgen.Ms(loadgen.Percentile(lats, .99)), "p99-ms")
}
