package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/shipment"
)

// chanSource is an event source the benchmark feeds directly, so the
// measurement starts when the event is handed over (as a committed block
// would be) and not when a file poll notices it.
type chanSource chan notifier.ChainEvent

func (c chanSource) Stream(ctx context.Context, _ notifier.Checkpoint, out chan<- notifier.ChainEvent) error {
	for {
		select {
		case ev := <-c:
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func benchEvents(b *testing.B, n int) ([]notifier.ChainEvent, map[string]notifier.Contact) {
	b.Helper()
	contacts := map[string]notifier.Contact{}
	evs := make([]notifier.ChainEvent, n)
	for i := range n {
		id := fmt.Sprintf("B-%d", i)
		contacts[id] = notifier.Contact{Phone: fmt.Sprintf("+346%08d", i), Language: "es", Consent: true}
		evs[i] = notifier.ChainEvent{Block: uint64(i + 1), TxID: fmt.Sprintf("btx%08d", i), Name: string(shipment.EventShipped)}
	}
	return evs, contacts
}

func payload(id string) []byte {
	ev := event(shipment.EventShipped, id)
	ev.Time = time.Now()
	p, _ := json.Marshal(ev)
	return p
}

// BenchmarkEventToSendLatency feeds events at 100/s (the rate limit, 1000/s,
// never binds) and reports the time from the event's timestamp to the
// stand-in receiving the request. Target: p99 under 250 ms.
func BenchmarkEventToSendLatency(b *testing.B) {
	n := max(b.N, 200)
	evs, contacts := benchEvents(b, n)
	src := make(chanSource)
	h := start(b, option{contacts: contacts, source: src, args: []string{
		"--sender.rate_per_second=1000", "--sender.workers=32", "--webhook.addr=",
	}})
	b.ResetTimer()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		evs[i].Payload = payload(fmt.Sprintf("B-%d", i))
		src <- evs[i]
	}
	eventually(b, 60*time.Second, "all sent", func() bool { return len(h.standin.Accepted()) >= n })
	b.StopTimer()
	report(b, h, n)
}

// BenchmarkSustainedSends hands over all events at once with the limit
// raised to 100000/s and reports sends per second reaching the stand-in.
// Target: at least 1000/s.
func BenchmarkSustainedSends(b *testing.B) {
	n := max(b.N, 5000)
	evs, contacts := benchEvents(b, n)
	src := make(chanSource, n)
	h := start(b, option{contacts: contacts, source: src, args: []string{
		"--sender.rate_per_second=100000", "--sender.workers=64", "--webhook.addr=",
	}})
	b.ResetTimer()
	begin := time.Now()
	for i := range n {
		evs[i].Payload = payload(fmt.Sprintf("B-%d", i))
		src <- evs[i]
	}
	eventually(b, 120*time.Second, "all sent", func() bool { return len(h.standin.Accepted()) >= n })
	elapsed := time.Since(begin)
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "sends/s")
	report(b, h, n)
}

func report(b *testing.B, h *harness, n int) {
	b.Helper()
	var lat []time.Duration
	first, last := time.Time{}, time.Time{}
	for _, r := range h.standin.Accepted() {
		if first.IsZero() || r.ReceivedAt.Before(first) {
			first = r.ReceivedAt
		}
		if r.ReceivedAt.After(last) {
			last = r.ReceivedAt
		}
		lat = append(lat, r.ReceivedAt.Sub(h.eventTime(r.CallbackData)))
	}
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	if d := last.Sub(first); d > 0 {
		b.ReportMetric(float64(n-1)/d.Seconds(), "stand-in-rx/s")
	}
	fmt.Printf("%s: %d messages, event-to-send p50 %s p99 %s\n", b.Name(), n, percentile(lat, 0.5), percentile(lat, 0.99))
}

// eventTime reads the event time of a notification from the outbox.
func (h *harness) eventTime(id string) time.Time {
	n, err := h.svc.Store().Get(id)
	if err != nil {
		return time.Time{}
	}
	return n.EventTime
}
