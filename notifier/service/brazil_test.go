package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/shipment"
)

// TestStopFromABrazilianNumber: the buyer's number carries the ninth
// digit, the stand-in (like WhatsApp for an account registered before the
// ninth digit) answers with a wa_id without it and the buyer's STOP comes
// from that wa_id. The next event must send nothing.
func TestStopFromABrazilianNumber(t *testing.T) {
	const number = "+5511987650001"
	h := start(t, option{contacts: map[string]notifier.Contact{"SHP-BR": {Phone: number, Name: "Ana", Language: "pt-BR", Consent: true}}})
	h.emit(t, event(shipment.EventShipped, "SHP-BR"))
	eventually(t, 10*time.Second, "the shipped message", func() bool { return len(h.standin.Accepted()) == 1 })
	if r := h.standin.Accepted()[0]; r.To != "5511987650001" || r.WaID != "551187650001" {
		t.Fatalf("stand-in record to %s wa_id %s; the test needs a wa_id without the ninth digit", r.To, r.WaID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.standin.PostInbound(ctx, number, "PARAR"); err != nil {
		t.Fatal(err)
	}
	h.emit(t, event(shipment.EventDelivered, "SHP-BR"))
	eventually(t, 10*time.Second, "the delivered notification settled", func() bool {
		for _, n := range h.notifications(t, "SHP-BR") {
			if n.EventType == notifier.EventDelivered {
				return n.Status.Terminal()
			}
		}
		return false
	})
	for _, n := range h.notifications(t, "SHP-BR") {
		if n.EventType == notifier.EventDelivered && (n.Status != notifier.StatusSkipped || n.Reason != "opted_out") {
			t.Errorf("delivered notification %s %q, want skipped opted_out", n.Status, n.Reason)
		}
	}
	if got := len(h.standin.Accepted()); got != 1 {
		t.Errorf("%d messages reached the buyer after STOP; want only the one before it", got-1)
	}
}
